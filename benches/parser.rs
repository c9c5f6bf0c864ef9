//! Parser throughput: how fast `Parser::next_op` turns a read buffer holding many
//! client frames into operations, in bytes/s (`parser_bytes/*`) and operations/s
//! (`parser_ops/*`). The buffer is ~1 MiB, as a fast publisher's 256 KiB reads
//! would accumulate; it is refilled before each iteration outside the timed part.
//! Dropping the operations (the `Bytes` refcounts) is part of the measurement.
//!
//! `cargo bench -p jetcore-benches --bench parser`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jetcore_server::protocol::parser::{ClientOp, Parser, ParserLimits};

/// Size of every input buffer.
const BUFFER: usize = 1 << 20;

/// `PUB bench.parser.subject <n>` frames up to [`BUFFER`] bytes.
fn pub_frames(payload: usize) -> (Vec<u8>, u64) {
    let body = vec![b'x'; payload];
    let mut out = Vec::with_capacity(BUFFER + 2048);
    let mut ops = 0;
    while out.len() < BUFFER {
        out.extend_from_slice(format!("PUB bench.parser.subject {payload}\r\n").as_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(b"\r\n");
        ops += 1;
    }
    (out, ops)
}

/// What a busy connection sends: publishes of varied sizes with and without a reply
/// subject, header publishes, subscription churn and keep-alives.
fn mixed_frames() -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(BUFFER + 4096);
    let mut ops = 0;
    let mut i = 0u64;
    while out.len() < BUFFER {
        let sizes = [16usize, 128, 1024, 64];
        let size = sizes[(i % 4) as usize];
        let body = vec![b'y'; size];
        match i % 8 {
            0..=3 => {
                out.extend_from_slice(format!("PUB orders.eu.{i} {size}\r\n").as_bytes());
                out.extend_from_slice(&body);
                out.extend_from_slice(b"\r\n");
            }
            4 => {
                out.extend_from_slice(
                    format!("PUB svc.req _INBOX.abcdefghij.{i} {size}\r\n").as_bytes(),
                );
                out.extend_from_slice(&body);
                out.extend_from_slice(b"\r\n");
            }
            5 => {
                let hdr = b"NATS/1.0\r\nTrace-Id: 0123456789\r\n\r\n";
                out.extend_from_slice(
                    format!("HPUB events.x {} {}\r\n", hdr.len(), hdr.len() + size).as_bytes(),
                );
                out.extend_from_slice(hdr);
                out.extend_from_slice(&body);
                out.extend_from_slice(b"\r\n");
            }
            6 => {
                out.extend_from_slice(format!("SUB updates.{i}.* workers {i}\r\n").as_bytes());
                ops += 1;
                out.extend_from_slice(format!("UNSUB {i}\r\n").as_bytes());
            }
            _ => out.extend_from_slice(b"PING\r\n"),
        }
        ops += 1;
        i += 1;
    }
    (out, ops)
}

/// Parse the whole buffer; returns the number of operations.
fn parse_all(buf: &mut BytesMut) -> u64 {
    let mut parser = Parser::new(ParserLimits::default());
    parser.set_headers(true);
    let mut n = 0;
    while let Some(op) = parser.next_op(buf).expect("valid input") {
        black_box(&op);
        n += 1;
    }
    assert!(buf.is_empty());
    n
}

fn inputs() -> Vec<(&'static str, Vec<u8>, u64)> {
    let mut v = Vec::new();
    for (name, size) in [("pub_16B", 16), ("pub_128B", 128), ("pub_1KiB", 1024)] {
        let (buf, ops) = pub_frames(size);
        v.push((name, buf, ops));
    }
    let (buf, ops) = mixed_frames();
    v.push(("mixed", buf, ops));
    v
}

fn parser(c: &mut Criterion) {
    let inputs = inputs();
    for (name, buf, ops) in &inputs {
        assert_eq!(parse_all(&mut BytesMut::from(&buf[..])), *ops, "{name}");
        // One op must be recognisable as a publish (sanity check of the input).
        let mut p = Parser::new(ParserLimits::default());
        let first = p.next_op(&mut BytesMut::from(&buf[..])).unwrap();
        assert!(matches!(first, Some(ClientOp::Pub { .. })), "{name}");
    }
    for (group, bytes) in [("parser_bytes", true), ("parser_ops", false)] {
        let mut g = c.benchmark_group(group);
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (name, buf, ops) in &inputs {
            g.throughput(if bytes {
                Throughput::Bytes(buf.len() as u64)
            } else {
                Throughput::Elements(*ops)
            });
            // One read buffer for all iterations, refilled outside the timed part: once
            // the ops of an iteration are dropped it is unique again and `reserve` reuses
            // the same memory, as a connection's read buffer does. (A fresh allocation
            // per iteration made results jump between two modes, by page placement.)
            let mut read_buf = BytesMut::with_capacity(buf.len());
            g.bench_function(*name, |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        read_buf.reserve(buf.len());
                        read_buf.extend_from_slice(buf);
                        let start = Instant::now();
                        black_box(parse_all(&mut read_buf));
                        timed += start.elapsed();
                    }
                    timed
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, parser);
criterion_main!(benches);
