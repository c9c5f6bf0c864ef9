//! Publish → deliver round trip through a running server: a raw-TCP `PUB` on one
//! connection, timed until the `MSG` arrives complete on another connection (one
//! message in flight, blocking sockets, `TCP_NODELAY`).
//!
//! - `BENCH_SERVER=jetcore` (default) starts `target/release/jetcore` (build it first:
//!   `cargo build --release -p jetcore-server`); `BENCH_CORES` sets `--cores`
//!   (default 1). With more than one shard the kernel decides whether the two
//!   connections share a shard, so results vary between runs.
//! - `BENCH_SERVER=go` starts the Go `nats-server` instead.
//! - `BENCH_SERVER_CPUS=1` runs the server under `taskset -c 1`.
//!
//! `cargo bench -p jetcore-benches --bench roundtrip`

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jetcore_benches::{next_frame, put_pub, Frame, Server, ServerKind, ServerSpec, CONNECT};

/// A blocking client connection with its read buffer.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    len: usize,
}

impl Conn {
    fn connect(port: u16, setup: &[u8]) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut c = Conn {
            s,
            buf: vec![0; 64 * 1024],
            len: 0,
        };
        c.s.write_all(CONNECT).expect("write");
        c.s.write_all(setup).expect("write");
        c.s.write_all(b"PING\r\n").expect("write");
        while c.next() != Event::Pong {}
        c
    }

    /// The next PONG or MSG (answering PINGs on the way).
    fn next(&mut self) -> Event {
        loop {
            let found = next_frame(&self.buf[..self.len])
                .expect("server frame")
                .map(|(f, n)| {
                    let ev = match f {
                        Frame::Msg { .. } => Some(Event::Msg),
                        Frame::Pong => Some(Event::Pong),
                        Frame::Ping => Some(Event::Ping),
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
                        Some(Event::Ping) => self.s.write_all(b"PONG\r\n").expect("write"),
                        Some(ev) => return ev,
                        None => {}
                    }
                }
                None => {
                    if self.len == self.buf.len() {
                        self.buf.resize(self.buf.len() * 2, 0);
                    }
                    let n = self.s.read(&mut self.buf[self.len..]).expect("read");
                    assert!(n > 0, "server closed the connection");
                    self.len += n;
                }
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Msg,
    Pong,
    Ping,
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

fn roundtrip(c: &mut Criterion) {
    let spec = spec_from_env();
    let server = Server::start(&spec).unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group(format!("roundtrip_{}", server.kind).replace('/', "_"));
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for size in [16usize, 1024] {
        let subject = format!("bench.rt.{size}");
        let mut sub = Conn::connect(server.port, format!("SUB {subject} 1\r\n").as_bytes());
        let mut publ = Conn::connect(server.port, b"");
        let mut frame = Vec::new();
        put_pub(&mut frame, subject.as_bytes(), None, &vec![b'r'; size]);
        // One message first: proves delivery works before timing anything.
        publ.s.write_all(&frame).expect("write");
        assert_eq!(sub.next(), Event::Msg);
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("pub_to_msg_{size}B"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    publ.s.write_all(&frame).expect("write");
                    assert_eq!(sub.next(), Event::Msg);
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, roundtrip);
criterion_main!(benches);
