//! Fuzz target for the client protocol parser (`jetcore_server::protocol::parser`).
//!
//! Input layout: byte 0 picks the connection setup (bit 0: headers enabled, bit 1: auth
//! pending, bit 2: tiny limits so the control-line and payload limits are reached), bytes
//! 1-2 pick a cut point, the rest is the byte stream a client sends. The stream is parsed
//! three ways: in one read, in two reads split at the cut, and one byte per read. None may
//! panic, and all must yield the same ops and end with the same kind of error (the
//! `MaxControlLine` length legitimately differs, so errors compare by variant and `-ERR`
//! text).
//!
//! Run: `cd fuzz && cargo +nightly fuzz run parser` (or `RUSTC_BOOTSTRAP=1 cargo fuzz run
//! parser` on a stable toolchain).
#![no_main]

use bytes::BytesMut;
use jetcore_server::protocol::parser::{ClientOp, ParseError, Parser, ParserLimits};
use libfuzzer_sys::fuzz_target;

/// The ops one run produced and how its error (if any) looks to the client.
type Outcome = (Vec<ClientOp>, Option<ErrorKind>);

/// An error's variant and the `-ERR` text it sends.
type ErrorKind = (std::mem::Discriminant<ParseError>, Option<&'static str>);

/// A parser configured from the setup byte.
fn parser(setup: u8) -> Parser {
    let limits = if setup & 4 == 0 {
        ParserLimits::default()
    } else {
        ParserLimits {
            max_control_line: 32,
            max_payload: 100,
        }
    };
    let mut p = Parser::new(limits);
    p.set_headers(setup & 1 != 0);
    p.set_auth_pending(setup & 2 != 0);
    p
}

/// Feeds `input` in pieces ending at each offset of `cuts` (ascending), then the rest.
fn run(setup: u8, input: &[u8], cuts: impl IntoIterator<Item = usize>) -> Outcome {
    let mut p = parser(setup);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut from = 0;
    for to in cuts.into_iter().chain(std::iter::once(input.len())) {
        let to = to.clamp(from, input.len());
        buf.extend_from_slice(&input[from..to]);
        from = to;
        loop {
            match p.next_op(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(e) => return (ops, Some((std::mem::discriminant(&e), e.client_error()))),
            }
        }
    }
    (ops, None)
}

fuzz_target!(|data: &[u8]| {
    let [setup, hi, lo, input @ ..] = data else {
        return;
    };
    let cut = usize::from(u16::from_be_bytes([*hi, *lo])) % (input.len() + 1);
    let whole = run(*setup, input, []);
    assert_eq!(run(*setup, input, [cut]), whole, "split at {cut}");
    assert_eq!(run(*setup, input, 1..input.len()), whole, "byte by byte");
});
