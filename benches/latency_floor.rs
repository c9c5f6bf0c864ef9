//! `jetcore-latency-floor`: the fastest a request/reply can be on this machine, with
//! no server logic at all, to put the request/reply latencies of jetcore and Go in
//! proportion.
//!
//! One requester sends 128 B and waits for 128 B back, over loopback TCP with
//! `TCP_NODELAY`, from blocking threads (cheaper than the load generator's tokio
//! client). Three shapes:
//!
//! - `direct`: requester ↔ echo thread. Two hops, no broker: no server can beat it.
//! - `relay`: requester → relay → echo → relay → requester. Four hops, the shape of a
//!   request through a broker; the relay copies bytes and parses nothing, one thread
//!   per direction blocking in `read`, so each hop wakes a sleeping thread, as a
//!   server that parks between messages does.
//! - `spin-relay`: the same with one relay thread busy-polling both sockets
//!   (never sleeping), the floor for a server that spins instead of parking.
//!
//! ```sh
//! target/release/jetcore-latency-floor [--requests N] [--rounds R]
//! ```
//!
//! Prints p50/p90/p99 per shape and round, then the median p50 per shape.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Instant;

/// Bytes per request and per reply, like the load generator's default.
const MESSAGE_SIZE: usize = 128;
/// Round trips before measuring (connection set-up, page faults, TCP windows).
const WARMUP: usize = 1_000;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut requests = 50_000usize;
    let mut rounds = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--requests" => requests = args.next().ok_or("--requests N")?.parse()?,
            "--rounds" => rounds = args.next().ok_or("--rounds R")?.parse()?,
            "-h" | "--help" => {
                println!("usage: jetcore-latency-floor [--requests N] [--rounds R]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let shapes = [Shape::Direct, Shape::Relay, Shape::SpinRelay];
    let mut p50s: Vec<Vec<f64>> = vec![Vec::new(); shapes.len()];
    for round in 1..=rounds {
        for (i, shape) in shapes.iter().enumerate() {
            let lat = measure(*shape, requests)?;
            println!(
                "round {round} {:<10} p50 {:6.1} µs  p90 {:6.1} µs  p99 {:6.1} µs",
                shape.name(),
                lat.quantile(0.5),
                lat.quantile(0.9),
                lat.quantile(0.99)
            );
            p50s[i].push(lat.quantile(0.5));
        }
    }
    for (shape, mut values) in shapes.iter().zip(p50s) {
        values.sort_by(f64::total_cmp);
        println!(
            "median p50 {:<10} {:6.1} µs",
            shape.name(),
            values[values.len() / 2]
        );
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Shape {
    Direct,
    Relay,
    SpinRelay,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Direct => "direct",
            Shape::Relay => "relay",
            Shape::SpinRelay => "spin-relay",
        }
    }
}

/// Sorted round-trip times in nanoseconds.
struct Latencies(Vec<u64>);

impl Latencies {
    /// The `q` quantile in microseconds.
    fn quantile(&self, q: f64) -> f64 {
        let i = (q * (self.0.len() - 1) as f64).round() as usize;
        self.0[i] as f64 / 1_000.0
    }
}

/// One run: set up the shape, time `requests` round trips after the warm-up. The
/// helper threads end when the requester's connection closes.
fn measure(shape: Shape, requests: usize) -> Result<Latencies> {
    let echo = start_echo()?;
    let target = match shape {
        Shape::Direct => echo,
        Shape::Relay => start_relay(echo, false)?,
        Shape::SpinRelay => start_relay(echo, true)?,
    };
    let mut conn = TcpStream::connect(target)?;
    conn.set_nodelay(true)?;
    let request = [b'q'; MESSAGE_SIZE];
    let mut reply = [0u8; MESSAGE_SIZE];
    let mut samples = Vec::with_capacity(requests);
    for i in 0..WARMUP + requests {
        let started = Instant::now();
        conn.write_all(&request)?;
        conn.read_exact(&mut reply)?;
        if i >= WARMUP {
            samples.push(started.elapsed().as_nanos() as u64);
        }
    }
    samples.sort_unstable();
    Ok(Latencies(samples))
}

/// A thread that answers every message with itself.
fn start_echo() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || -> std::io::Result<()> {
        let (mut conn, _) = listener.accept()?;
        conn.set_nodelay(true)?;
        let mut buf = [0u8; MESSAGE_SIZE];
        loop {
            conn.read_exact(&mut buf)?;
            conn.write_all(&buf)?;
        }
    });
    Ok(addr)
}

/// A relay in front of `upstream`: accepts one connection and copies bytes both
/// ways, with a blocking thread per direction or one busy-polling thread.
fn start_relay(upstream: SocketAddr, spin: bool) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || -> std::io::Result<()> {
        let (client, _) = listener.accept()?;
        client.set_nodelay(true)?;
        let server = TcpStream::connect(upstream)?;
        server.set_nodelay(true)?;
        if spin {
            return spin_copy(client, server);
        }
        let (client_rx, server_tx) = (client.try_clone()?, server.try_clone()?);
        std::thread::spawn(move || copy(server, client));
        copy(client_rx, server_tx)
    });
    Ok(addr)
}

/// Copy from `from` to `to` until either side closes.
fn copy(mut from: TcpStream, mut to: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
    }
}

/// Copy both ways from one thread that never sleeps: non-blocking reads in a loop.
fn spin_copy(mut a: TcpStream, mut b: TcpStream) -> std::io::Result<()> {
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    let mut buf = [0u8; 4096];
    loop {
        if !forward(&mut a, &mut b, &mut buf)? || !forward(&mut b, &mut a, &mut buf)? {
            return Ok(());
        }
    }
}

/// Forward what `from` has now; false when it closed.
fn forward(from: &mut TcpStream, to: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<bool> {
    match from.read(buf) {
        Ok(0) => Ok(false),
        Ok(n) => {
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                match to.write(rest) {
                    Ok(m) => rest = &rest[m..],
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                    Err(e) => return Err(e),
                }
            }
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(true),
        Err(e) => Err(e),
    }
}
