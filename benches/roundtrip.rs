//! Latency through a running server, one operation in flight, raw TCP with blocking
//! sockets and `TCP_NODELAY`. Each benchmark times what a client waits for:
//!
//! - `pub_to_msg_{16,128,1024}B`: a `PUB` on one connection until the `MSG` arrives
//!   complete on another.
//! - `req_to_reply_128B`: a request (`PUB` with a reply inbox) until the reply arrives;
//!   the responder is a second connection served by its own thread.
//! - `js_pub_ack_128B_<storage>`: a JetStream publish until its PubAck, for a memory
//!   stream and for file streams under each sync policy: `file_always` (fdatasync
//!   before every PubAck — jetcore's default; Go with `sync_interval: always`) and
//!   `file_interval` (Go's default: fsync every 2 minutes in the background).
//! - `fetch_to_msg_128B`: a pull request for one message (`MSG.NEXT`, batch 1) until
//!   the message arrives, from a memory stream filled beforehand (not timed).
//!
//! Servers: `BENCH_SERVER=jetcore` (default) starts `target/release/jetcore` (build
//! it first: `cargo build --release -p jetcore-server`), `BENCH_CORES` sets `--cores`
//! (default 1; with more shards the kernel decides which shard each connection lands
//! on, so results vary between runs); `BENCH_SERVER=go` starts the Go `nats-server`;
//! `BENCH_SERVER_CPUS=1` runs the server under `taskset -c 1`.
//!
//! `cargo bench -p jetcore-benches --bench roundtrip` (`-- --quick` for a short run).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use jetcore_benches::{next_frame, put_pub, Frame, Server, ServerKind, ServerSpec, CONNECT};

/// A blocking client connection with its read buffer.
struct Conn {
    /// The socket.
    s: TcpStream,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    /// How much of `buf` holds data.
    len: usize,
}

/// What [`Conn::next`] found.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// A message: its reply subject (if any) and its body (headers and payload).
    Msg {
        /// The reply subject.
        reply: Option<Vec<u8>>,
        /// Headers followed by payload.
        body: Vec<u8>,
    },
    /// A PONG.
    Pong,
}

impl Conn {
    fn connect(port: u16, setup: &[u8]) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut c = Conn {
            s,
            buf: vec![0; 64 * 1024],
            len: 0,
        };
        c.send(CONNECT);
        c.send(setup);
        c.send(b"PING\r\n");
        while c.next() != Event::Pong {}
        c
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("write");
    }

    /// The next PONG or MSG (answering PINGs on the way).
    fn next(&mut self) -> Event {
        self.try_next().expect("server closed the connection")
    }

    /// [`Conn::next`], or `None` once the connection is closed or fails.
    fn try_next(&mut self) -> Option<Event> {
        loop {
            let found = next_frame(&self.buf[..self.len])
                .expect("server frame")
                .map(|(f, n)| {
                    let ev = match f {
                        Frame::Msg { args, body } => Some(Some(Event::Msg {
                            reply: reply_of(args, body),
                            body: body.to_vec(),
                        })),
                        Frame::Pong => Some(Some(Event::Pong)),
                        Frame::Ping => Some(None),
                        Frame::Err(e) => panic!("-ERR{}", String::from_utf8_lossy(e)),
                        Frame::Other => None,
                    };
                    (ev, n)
                });
            match found {
                Some((ev, n)) => {
                    self.buf.copy_within(n..self.len, 0);
                    self.len -= n;
                    match ev {
                        Some(None) => self.s.write_all(b"PONG\r\n").ok()?,
                        Some(Some(ev)) => return Some(ev),
                        None => {}
                    }
                }
                None => {
                    if self.len == self.buf.len() {
                        self.buf.resize(self.buf.len() * 2, 0);
                    }
                    match self.s.read(&mut self.buf[self.len..]) {
                        Ok(n) if n > 0 => self.len += n,
                        _ => return None,
                    }
                }
            }
        }
    }

    /// The next message (panics on anything else).
    fn next_msg(&mut self) -> (Option<Vec<u8>>, Vec<u8>) {
        match self.next() {
            Event::Msg { reply, body } => (reply, body),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// A request/response on this connection: publish `payload` to `subject` with
    /// the reply inbox `inbox` (already subscribed) and wait for the answer.
    fn request(&mut self, subject: &str, inbox: &str, payload: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        put_pub(
            &mut frame,
            subject.as_bytes(),
            Some(inbox.as_bytes()),
            payload,
        );
        self.send(&frame);
        self.next_msg().1
    }
}

/// The reply subject of a `MSG`/`HMSG` from its arguments
/// (`<subject> <sid> [reply] [hdr_len] <total_len>`).
fn reply_of(args: &[u8], body: &[u8]) -> Option<Vec<u8>> {
    let tokens: Vec<&[u8]> = args
        .split(|b| *b == b' ')
        .filter(|t| !t.is_empty())
        .collect();
    // An HMSG has one more size token; tell them apart by the body's header prefix.
    let sizes = if body.starts_with(b"NATS/1.0") { 2 } else { 1 };
    (tokens.len() == 2 + 1 + sizes).then(|| tokens[2].to_vec())
}

fn spec_from_env() -> ServerSpec {
    let kind = match std::env::var("BENCH_SERVER").as_deref() {
        Err(_) | Ok("") | Ok("jetcore") => ServerKind::Jetcore {
            cores: std::env::var("BENCH_CORES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
        },
        Ok("go") => ServerKind::Go,
        Ok(other) => panic!("BENCH_SERVER={other:?}: expected jetcore or go"),
    };
    let mut spec = ServerSpec::new(kind);
    spec.cpus = std::env::var("BENCH_SERVER_CPUS")
        .ok()
        .filter(|s| !s.is_empty());
    spec
}

/// The group every benchmark of a server lands in, named after the server.
fn group<'a>(
    c: &'a mut Criterion,
    server: &Server,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(format!("roundtrip_{}", server.kind).replace('/', "_"));
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    g
}

/// Core NATS: publish → deliver and request → reply.
fn core_nats(c: &mut Criterion) {
    let spec = spec_from_env();
    let server = Server::start(&spec).unwrap_or_else(|e| panic!("{e}"));
    let mut g = group(c, &server);
    for size in [16usize, 128, 1024] {
        let subject = format!("bench.rt.{size}");
        let mut sub = Conn::connect(server.port, format!("SUB {subject} 1\r\n").as_bytes());
        let mut publ = Conn::connect(server.port, b"");
        let mut frame = Vec::new();
        put_pub(&mut frame, subject.as_bytes(), None, &vec![b'r'; size]);
        // One message first: proves delivery works before timing anything.
        publ.send(&frame);
        sub.next_msg();
        g.bench_function(format!("pub_to_msg_{size}B"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    publ.send(&frame);
                    sub.next_msg();
                }
                start.elapsed()
            })
        });
    }

    // The responder answers every request with the request's own payload.
    let mut responder = Conn::connect(server.port, b"SUB bench.svc 1\r\n");
    std::thread::spawn(move || loop {
        // The thread ends when the server goes away at the end of the bench.
        let Some(Event::Msg { reply, body }) = responder.try_next() else {
            return;
        };
        let Some(reply) = reply else { continue };
        let mut frame = Vec::new();
        put_pub(&mut frame, &reply, None, &body);
        if responder.s.write_all(&frame).is_err() {
            return;
        }
    });
    let mut requester = Conn::connect(server.port, b"SUB _INBOX.bench 1\r\n");
    let payload = vec![b'q'; 128];
    requester.request("bench.svc", "_INBOX.bench", &payload);
    g.bench_function("req_to_reply_128B", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                requester.request("bench.svc", "_INBOX.bench", &payload);
            }
            start.elapsed()
        })
    });
    g.finish();
}

/// A server with JetStream on, its store in a fresh temp dir; `config` is the text of
/// a config file (empty for none).
fn js_server(config: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spec = spec_from_env();
    spec.args = vec![
        "-js".into(),
        "-sd".into(),
        dir.path().join("store").display().to_string(),
    ];
    if !config.is_empty() {
        let path = dir.path().join("bench.conf");
        std::fs::write(&path, config).expect("write config");
        spec.args.push("-c".into());
        spec.args.push(path.display().to_string());
    }
    (Server::start(&spec).unwrap_or_else(|e| panic!("{e}")), dir)
}

/// A JetStream API request on `c` (subscribed to `_INBOX.api`) that must succeed.
fn js_api(c: &mut Conn, subject: &str, body: &str) {
    let answer = c.request(subject, "_INBOX.api", body.as_bytes());
    let text = String::from_utf8_lossy(&answer);
    assert!(!text.contains("\"error\""), "{subject}: {text}");
}

/// JetStream publish → PubAck for each storage and sync policy.
fn js_publish(c: &mut Criterion) {
    let go = matches!(spec_from_env().kind, ServerKind::Go);
    // (name, storage, config): the same durability asked of both servers.
    let always = "jetstream { sync_interval: always }\n";
    let interval = "jetstream { sync_interval: \"2m\" }\n";
    let cases = [
        ("memory", "memory", ""),
        ("file_always", "file", if go { always } else { "" }),
        ("file_interval", "file", interval),
    ];
    for (name, storage, config) in cases {
        let (server, _dir) = js_server(config);
        let mut g = group(c, &server);
        let mut conn = Conn::connect(server.port, b"SUB _INBOX.api 1\r\nSUB _INBOX.ack 2\r\n");
        js_api(
            &mut conn,
            "$JS.API.STREAM.CREATE.BENCH",
            &format!(r#"{{"name":"BENCH","subjects":["bench.js"],"storage":"{storage}"}}"#),
        );
        let payload = vec![b'j'; 128];
        conn.request("bench.js", "_INBOX.ack", &payload);
        g.bench_function(format!("js_pub_ack_128B_{name}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let ack = conn.request("bench.js", "_INBOX.ack", &payload);
                    debug_assert!(ack.starts_with(b"{\"stream\""));
                }
                start.elapsed()
            })
        });
        g.finish();
    }
}

/// Pull consumer: one `MSG.NEXT` (batch 1) → the message.
fn js_fetch(c: &mut Criterion) {
    let (server, _dir) = js_server("");
    let mut g = group(c, &server);
    let mut conn = Conn::connect(
        server.port,
        b"SUB _INBOX.api 1\r\nSUB _INBOX.ack 2\r\nSUB _INBOX.fetch 3\r\n",
    );
    js_api(
        &mut conn,
        "$JS.API.STREAM.CREATE.FETCH",
        r#"{"name":"FETCH","subjects":["fetch.js"],"storage":"memory"}"#,
    );
    js_api(
        &mut conn,
        "$JS.API.CONSUMER.CREATE.FETCH.PULL",
        r#"{"stream_name":"FETCH","config":{"durable_name":"PULL","ack_policy":"none"}}"#,
    );
    let payload = vec![b'f'; 128];
    let publish = |conn: &mut Conn, n: u64| {
        // Pipelined: all publishes, then all PubAcks (not timed).
        let mut frames = Vec::new();
        for _ in 0..n {
            put_pub(&mut frames, b"fetch.js", Some(b"_INBOX.ack"), &payload);
        }
        conn.send(&frames);
        for _ in 0..n {
            conn.next_msg();
        }
    };
    let mut next = Vec::new();
    put_pub(
        &mut next,
        b"$JS.API.CONSUMER.MSG.NEXT.FETCH.PULL",
        Some(b"_INBOX.fetch"),
        br#"{"batch":1}"#,
    );
    publish(&mut conn, 1);
    conn.send(&next);
    conn.next_msg();
    g.bench_function("fetch_to_msg_128B", |b| {
        b.iter_custom(|iters| {
            publish(&mut conn, iters);
            let start = Instant::now();
            for _ in 0..iters {
                conn.send(&next);
                let (_, body) = conn.next_msg();
                debug_assert_eq!(body.len(), 128);
            }
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, core_nats, js_publish, js_fetch);
criterion_main!(benches);
