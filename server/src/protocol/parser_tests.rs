//! Tests for the client protocol parser. Expected error texts were captured from the Go
//! reference server, nats-server 2.15.1, over raw TCP (see the per-table comments).

use super::*;

/// What a connection looks like to the parser in a test case.
#[derive(Clone, Copy)]
struct Setup {
    /// Limits in force.
    limits: ParserLimits,
    /// `HPUB` enabled.
    headers: bool,
    /// Authentication pending.
    auth: bool,
}

/// Go's defaults before `CONNECT`: 4096/1 MiB, no headers, no auth.
const PLAIN: Setup = Setup {
    limits: ParserLimits {
        max_control_line: DEFAULT_MAX_CONTROL_LINE,
        max_payload: DEFAULT_MAX_PAYLOAD,
    },
    headers: false,
    auth: false,
};

/// After `CONNECT {"headers":true}`.
const HEADERS: Setup = Setup {
    headers: true,
    ..PLAIN
};

/// A server started with `max_control_line: 32` and `max_payload: 100`.
const SMALL: Setup = Setup {
    limits: ParserLimits {
        max_control_line: 32,
        max_payload: 100,
    },
    headers: true,
    auth: false,
};

/// A server with `authorization { user: a, password: b }` before `CONNECT`.
const AUTH: Setup = Setup {
    auth: true,
    ..PLAIN
};

/// Everything one parse run produced: the ops and the error that ended it, if any.
type Outcome = (Vec<ClientOp>, Option<ParseError>);

/// A parser configured as `setup` says.
fn parser(setup: Setup) -> Parser {
    let mut p = Parser::new(setup.limits);
    p.set_headers(setup.headers);
    p.set_auth_pending(setup.auth);
    p
}

/// Drains every op `buf` currently yields into `ops`; returns the error, if any.
fn drain(p: &mut Parser, buf: &mut BytesMut, ops: &mut Vec<ClientOp>) -> Option<ParseError> {
    loop {
        match p.next_op(buf) {
            Ok(Some(op)) => ops.push(op),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

/// Feeds `input` in pieces ending at the given cut offsets.
fn parse_chunks(setup: Setup, input: &[u8], cuts: &[usize]) -> Outcome {
    let mut p = parser(setup);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&input.len())) {
        let to = to.clamp(from, input.len());
        buf.extend_from_slice(&input[from..to]);
        from = to;
        if let Some(e) = drain(&mut p, &mut buf, &mut ops) {
            return (ops, Some(e));
        }
    }
    (ops, None)
}

/// Feeds `input` in one read.
fn parse_all(setup: Setup, input: &[u8]) -> Outcome {
    parse_chunks(setup, input, &[])
}

/// Shorthand for a static `Bytes`.
fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

/// Shorthand for a `PUB`.
fn publ(subject: &'static [u8], reply: Option<&'static [u8]>, payload: &'static [u8]) -> ClientOp {
    ClientOp::Pub {
        subject: b(subject),
        reply: reply.map(b),
        payload: b(payload),
    }
}

/// Shorthand for a `SUB`.
fn sub(subject: &'static [u8], queue: Option<&'static [u8]>, sid: &'static [u8]) -> ClientOp {
    ClientOp::Sub {
        subject: b(subject),
        queue: queue.map(b),
        sid: b(sid),
    }
}

/// Shorthand for an `UNSUB`.
fn unsub(sid: &'static [u8], max: Option<u64>) -> ClientOp {
    ClientOp::Unsub { sid: b(sid), max }
}

/// Shorthand for an `HPUB`.
fn hpub(
    subject: &'static [u8],
    reply: Option<&'static [u8]>,
    hdr: &'static [u8],
    payload: &'static [u8],
) -> ClientOp {
    ClientOp::HPub {
        subject: b(subject),
        reply: reply.map(b),
        headers: b(hdr),
        payload: b(payload),
    }
}

/// Well-formed input (and Go quirks Go accepts) → the ops it yields, with no error and
/// nothing left over. Go accepted each of these (nats-server 2.15.1 answered `+OK`/`PONG`
/// and kept the connection open).
#[test]
fn every_verb_parses() {
    let at_max = [b"PUB foo 100\r\n".as_slice(), &[b'x'; 100], b"\r\n"].concat();
    let max_pub = ClientOp::Pub {
        subject: b(b"foo"),
        reply: None,
        payload: Bytes::from(vec![b'x'; 100]),
    };
    let ping_tail = [b"PING".as_slice(), &[b'x'; 200], b"\r\n"].concat();
    let blank_run = [b"PUB".as_slice(), &[b' '; 100], b"foo 1\r\nx\r\n"].concat();
    let cases: Vec<(&str, Setup, &[u8], Vec<ClientOp>)> = vec![
        ("ping", PLAIN, b"PING\r\n", vec![ClientOp::Ping]),
        ("ping lower", PLAIN, b"ping\r\n", vec![ClientOp::Ping]),
        ("ping mixed", PLAIN, b"PiNg\r\n", vec![ClientOp::Ping]),
        ("ping bare LF", PLAIN, b"PING\n", vec![ClientOp::Ping]),
        ("ping junk", PLAIN, b"PINGxyz\r\n", vec![ClientOp::Ping]),
        ("ping arg", PLAIN, b"PING foo\r\n", vec![ClientOp::Ping]),
        ("pong", PLAIN, b"PONG\r\n", vec![ClientOp::Pong]),
        ("ok", PLAIN, b"+OK\r\n", vec![ClientOp::Ok]),
        ("ok junk", PLAIN, b"+okjunk\r\n", vec![ClientOp::Ok]),
        (
            "err",
            PLAIN,
            b"-ERR 'foo'\r\n",
            vec![ClientOp::Err(b(b"'foo'"))],
        ),
        (
            "connect",
            PLAIN,
            b"CONNECT {\"verbose\":false}\r\n",
            vec![ClientOp::Connect(b(b"{\"verbose\":false}"))],
        ),
        (
            "connect lower tab",
            PLAIN,
            b"connect\t {}\r\n",
            vec![ClientOp::Connect(b(b"{}"))],
        ),
        (
            "connect no space",
            PLAIN,
            b"CONNECT{}\r\n",
            vec![ClientOp::Connect(b(b"{}"))],
        ),
        (
            "connect trailing",
            PLAIN,
            b"CONNECT {} x\r\n",
            vec![ClientOp::Connect(b(b"{} x"))],
        ),
        (
            "connect empty",
            PLAIN,
            b"CONNECT\r\n",
            vec![ClientOp::Connect(b(b"\r"))],
        ),
        (
            "connect blank empty",
            PLAIN,
            b"CONNECT \r\n",
            vec![ClientOp::Connect(b(b"\r"))],
        ),
        (
            "info",
            PLAIN,
            b"INFO {}\r\n",
            vec![ClientOp::Info(b(b"{}"))],
        ),
        (
            "info empty",
            PLAIN,
            b"INFO\r\n",
            vec![ClientOp::Info(b(b"\r"))],
        ),
        (
            "pub",
            PLAIN,
            b"PUB foo 5\r\nhello\r\n",
            vec![publ(b"foo", None, b"hello")],
        ),
        (
            "pub reply",
            PLAIN,
            b"PUB foo bar 5\r\nhello\r\n",
            vec![publ(b"foo", Some(b"bar"), b"hello")],
        ),
        (
            "pub tabs",
            PLAIN,
            b"PUB\tfoo\t \t5\r\nhello\r\n",
            vec![publ(b"foo", None, b"hello")],
        ),
        (
            "pub lower",
            PLAIN,
            b"pub foo 2\r\nhi\r\n",
            vec![publ(b"foo", None, b"hi")],
        ),
        (
            "pub zero",
            PLAIN,
            b"PUB foo 0\r\n\r\n",
            vec![publ(b"foo", None, b"")],
        ),
        (
            "pub 9 digits",
            PLAIN,
            b"PUB foo 000000005\r\nhello\r\n",
            vec![publ(b"foo", None, b"hello")],
        ),
        (
            "pub bare LF line",
            PLAIN,
            b"PUB foo 5\nhello\r\n",
            vec![publ(b"foo", None, b"hello")],
        ),
        (
            "pub payload has CRLF",
            PLAIN,
            b"PUB foo 4\r\n\r\n\r\n\r\n",
            vec![publ(b"foo", None, b"\r\n\r\n")],
        ),
        (
            "pub many blanks",
            PLAIN,
            b"PUB    foo   1   \r\nx\r\n",
            vec![publ(b"foo", None, b"x")],
        ),
        (
            "pub CR in subject",
            PLAIN,
            b"PUB foo\r 1\r\nx\r\n",
            vec![publ(b"foo\r", None, b"x")],
        ),
        ("pub at max", SMALL, &at_max, vec![max_pub]),
        (
            "hpub",
            HEADERS,
            b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            vec![hpub(b"foo", None, b"NATS/1.0\r\n\r\n", b"hi")],
        ),
        (
            "hpub reply",
            HEADERS,
            b"hpub foo bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            vec![hpub(b"foo", Some(b"bar"), b"NATS/1.0\r\n\r\n", b"hi")],
        ),
        (
            "hpub hdr 0",
            HEADERS,
            b"HPUB foo 0 2\r\nhi\r\n",
            vec![hpub(b"foo", None, b"", b"hi")],
        ),
        (
            "hpub hdr == total",
            HEADERS,
            b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n",
            vec![hpub(b"foo", None, b"NATS/1.0\r\n\r\n", b"")],
        ),
        (
            "hpub garbage header",
            HEADERS,
            b"HPUB foo 2 4\r\nabcd\r\n",
            vec![hpub(b"foo", None, b"ab", b"cd")],
        ),
        (
            "sub",
            PLAIN,
            b"SUB foo 1\r\n",
            vec![sub(b"foo", None, b"1")],
        ),
        (
            "sub queue",
            PLAIN,
            b"sub foo q 1\r\n",
            vec![sub(b"foo", Some(b"q"), b"1")],
        ),
        (
            "sub bad subject is server's job",
            PLAIN,
            b"SUB foo..bar 1\r\n",
            vec![sub(b"foo..bar", None, b"1")],
        ),
        (
            "sub CR splits",
            PLAIN,
            b"SUB foo\rbar 1\r\n",
            vec![sub(b"foo", Some(b"bar"), b"1")],
        ),
        (
            "sub arg starts LF",
            PLAIN,
            b"SUB \nfoo 1\r\n",
            vec![sub(b"foo", None, b"1")],
        ),
        (
            "sub arg starts CR",
            PLAIN,
            b"SUB \rfoo 1\r\n",
            vec![sub(b"foo", None, b"1")],
        ),
        ("unsub", PLAIN, b"UNSUB 1\r\n", vec![unsub(b"1", None)]),
        (
            "unsub max",
            PLAIN,
            b"unsub 1 10\r\n",
            vec![unsub(b"1", Some(10))],
        ),
        (
            "unsub max 0",
            PLAIN,
            b"UNSUB 1 0\r\n",
            vec![unsub(b"1", None)],
        ),
        (
            "unsub max junk",
            PLAIN,
            b"UNSUB 1 abc\r\n",
            vec![unsub(b"1", None)],
        ),
        (
            "unsub max 10 digits",
            PLAIN,
            b"UNSUB 1 1234567890\r\n",
            vec![unsub(b"1", None)],
        ),
        (
            "auth lowercase connect",
            AUTH,
            b"connect {}\r\n",
            vec![ClientOp::Connect(b(b"{}"))],
        ),
        (
            "arg exactly 32",
            SMALL,
            b"PUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1\r\nx\r\n",
            vec![publ(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", None, b"x")],
        ),
        (
            "long ping tail ignores mcl",
            SMALL,
            &ping_tail,
            vec![ClientOp::Ping],
        ),
        (
            "long blank run ignores mcl",
            SMALL,
            &blank_run,
            vec![publ(b"foo", None, b"x")],
        ),
    ];
    for (name, setup, input, want) in cases {
        let (ops, err) = parse_all(setup, input);
        assert_eq!(err, None, "{name}");
        assert_eq!(ops, want, "{name}");
    }
}

/// A named input, the number of ops it yields first, and the `-ERR` text Go sends.
type ErrorCase<'a> = (&'a str, Setup, &'a [u8], usize, Option<&'a str>);

/// Input → (ops yielded before the error, the `-ERR` text Go sent before closing; `None` =
/// Go closed without sending anything). Captured from nats-server 2.15.1 over raw TCP.
#[test]
fn errors_match_go() {
    const UNKNOWN: Option<&str> = Some("Unknown Protocol Operation");
    const MAX_PAYLOAD: Option<&str> = Some("Maximum Payload Violation");
    const MCL: Option<&str> = Some("maximum control line exceeded");
    const AUTHV: Option<&str> = Some("Authorization Violation");
    let a31 = [b"PUB ".as_slice(), &[b'a'; 31], b" 1\r\nx\r\n"].concat();
    let s31 = [b"SUB ".as_slice(), &[b'a'; 31], b" 1\r\n"].concat();
    let c33 = [b"CONNECT {\"name\":\"".as_slice(), &[b'a'; 22], b"\"}\r\n"].concat();
    let i33 = [b"INFO {\"name\":\"".as_slice(), &[b'a'; 23], b"\"}\r\n"].concat();
    let e33 = [b"-ERR ".as_slice(), &[b'a'; 33], b"\r\n"].concat();
    let u33 = [b"UNSUB ".as_slice(), &[b'1'; 33], b"\r\n"].concat();
    let p33 = [b"PUB ".as_slice(), &[b'a'; 33]].concat();
    let sp33 = [b"SUB ".as_slice(), &[b'a'; 33]].concat();
    let cp33 = [b"CONNECT ".as_slice(), &[b'a'; 33]].concat();
    let long101 = [b"PUB ".as_slice(), &[b'a'; 40], b" 101\r\n"].concat();
    let trailing = [b"PUB ".as_slice(), &[b'a'; 28], b" 1   \r\nx\r\n"].concat();
    let cases: Vec<ErrorCase> = vec![
        ("-ERR without blank", PLAIN, b"-ERR\r\n", 0, UNKNOWN),
        ("empty line CRLF", PLAIN, b"\r\nPING\r\n", 0, UNKNOWN),
        ("empty line LF", PLAIN, b"\nPING\r\n", 0, UNKNOWN),
        ("leading space", PLAIN, b" PING\r\n", 0, UNKNOWN),
        ("unknown verb", PLAIN, b"FOO\r\n", 0, UNKNOWN),
        ("unknown P verb", PLAIN, b"PX\r\n", 0, UNKNOWN),
        ("PUBX", PLAIN, b"PUBX foo 0\r\n\r\n", 0, UNKNOWN),
        ("PUB without blank", PLAIN, b"PUB\r\n", 0, UNKNOWN),
        ("SUB without blank", PLAIN, b"SUB\r\n", 0, UNKNOWN),
        ("UNSUB without blank", PLAIN, b"UNSUB\r\n", 0, UNKNOWN),
        ("HMSG without blank", PLAIN, b"HMSG\r\n", 0, UNKNOWN),
        (
            "HMSG with a body",
            PLAIN,
            b"HMSG foo 1 2\r\nhi\r\n",
            0,
            UNKNOWN,
        ),
        ("HMSG line alone", PLAIN, b"HMSG ping\r\n", 0, UNKNOWN),
        // Go accepts this one as an empty no-op publish (+OK) when all of it arrives in one
        // read, and rejects it when the read ends inside; we always reject.
        (
            "HMSG with empty body",
            PLAIN,
            b"HMSG foo 1 2\r\n\r\nPING\r\n",
            0,
            UNKNOWN,
        ),
        (
            "MSG from client",
            PLAIN,
            b"MSG foo 1 2\r\nhi\r\n",
            0,
            UNKNOWN,
        ),
        ("RS+ from client", PLAIN, b"RS+ foo\r\n", 0, UNKNOWN),
        ("LS+ from client", PLAIN, b"LS+ foo\r\n", 0, UNKNOWN),
        ("A+ from client", PLAIN, b"A+ foo\r\n", 0, UNKNOWN),
        (
            "payload longer than size",
            PLAIN,
            b"PUB foo 3\r\nhello\r\n",
            0,
            UNKNOWN,
        ),
        (
            "payload shorter than size",
            PLAIN,
            b"PUB foo 7\r\nhello\r\nPING\r\n",
            0,
            UNKNOWN,
        ),
        (
            "payload ends in bare LF",
            PLAIN,
            b"PUB foo 5\r\nhello\nPING\r\n",
            0,
            UNKNOWN,
        ),
        (
            "op after good ops",
            PLAIN,
            b"PING\r\nPUB foo 1\r\nx\r\nXX\r\n",
            2,
            UNKNOWN,
        ),
        ("PUB one arg", PLAIN, b"PUB foo\r\nPING\r\n", 0, None),
        (
            "PUB four args",
            PLAIN,
            b"PUB foo bar baz 5\r\nhello\r\n",
            0,
            None,
        ),
        (
            "PUB negative size",
            PLAIN,
            b"PUB foo -5\r\nhello\r\n",
            0,
            None,
        ),
        ("PUB non-numeric size", PLAIN, b"PUB foo abc\r\n", 0, None),
        (
            "PUB 10-digit size",
            PLAIN,
            b"PUB foo 0000000005\r\nhello\r\n",
            0,
            None,
        ),
        ("PUB plus size", PLAIN, b"PUB foo +5\r\nhello\r\n", 0, None),
        ("PUB junk after CR", SMALL, b"PUB foo 1\rx\nx\r\n", 0, None),
        ("PUB CR CR LF", SMALL, b"PUB foo 1\r\r\nx\r\n", 0, None),
        (
            "PUB over max payload",
            PLAIN,
            b"PUB foo 1048577\r\n",
            0,
            MAX_PAYLOAD,
        ),
        (
            "PUB 999999999",
            PLAIN,
            b"PUB foo 999999999\r\n",
            0,
            MAX_PAYLOAD,
        ),
        (
            "PUB over small max payload",
            SMALL,
            b"PUB foo 101\r\n",
            0,
            MAX_PAYLOAD,
        ),
        (
            "HPUB before CONNECT",
            PLAIN,
            b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            0,
            None,
        ),
        (
            "HPUB before CONNECT over payload",
            SMALL_NO_HDR,
            b"HPUB foo 1 200\r\n",
            0,
            None,
        ),
        (
            "HPUB header > total",
            HEADERS,
            b"HPUB foo 14 12\r\n",
            0,
            None,
        ),
        ("HPUB two args", HEADERS, b"HPUB foo 12\r\n", 0, None),
        (
            "HPUB bad header size",
            HEADERS,
            b"HPUB foo x 12\r\n",
            0,
            None,
        ),
        (
            "HPUB five args",
            HEADERS,
            b"HPUB foo a b 12 14\r\n",
            0,
            None,
        ),
        (
            "HPUB 10-digit header size",
            HEADERS,
            b"HPUB foo 0000000012 14\r\n",
            0,
            None,
        ),
        (
            "HPUB over max payload",
            HEADERS,
            b"HPUB foo 12 1048577\r\n",
            0,
            MAX_PAYLOAD,
        ),
        ("SUB one arg", PLAIN, b"SUB foo\r\n", 0, None),
        ("SUB four args", PLAIN, b"SUB foo q 1 2\r\n", 0, None),
        ("SUB blank only", PLAIN, b"SUB \r\nPING\r\n", 0, None),
        ("UNSUB blank only", PLAIN, b"UNSUB \r\nPING\r\n", 0, None),
        ("UNSUB three args", PLAIN, b"UNSUB 1 2 3\r\n", 0, None),
        ("PUB arg 33", SMALL, &a31, 0, MCL),
        ("PUB arg 33 via trailing blanks", SMALL, &trailing, 0, MCL),
        ("SUB arg 33", SMALL, &s31, 0, MCL),
        ("CONNECT arg 33", SMALL, &c33, 0, MCL),
        ("INFO arg 33", SMALL, &i33, 0, MCL),
        ("-ERR arg 33", SMALL, &e33, 0, MCL),
        ("UNSUB arg 33", SMALL, &u33, 0, MCL),
        ("partial PUB arg 33", SMALL, &p33, 0, MCL),
        ("partial SUB arg 33", SMALL, &sp33, 0, MCL),
        ("partial CONNECT arg 33", SMALL, &cp33, 0, MCL),
        ("mcl before max payload", SMALL, &long101, 0, MCL),
        ("auth: PING first", AUTH, b"PING\r\n", 0, AUTHV),
        ("auth: SUB first", AUTH, b"SUB foo 1\r\n", 0, AUTHV),
        ("auth: lone P", AUTH, b"P", 0, AUTHV),
        ("auth: garbage", AUTH, b"XYZ\r\n", 0, AUTHV),
        ("auth: empty line", AUTH, b"\r\n", 0, AUTHV),
        (
            "auth: PUB over max payload",
            AUTH,
            b"PUB foo 99999999\r\n",
            0,
            AUTHV,
        ),
        ("auth: C then garbage", AUTH, b"CX\r\n", 0, UNKNOWN),
    ];
    for (name, setup, input, n_ops, want) in cases {
        let (ops, err) = parse_all(setup, input);
        let err = err.unwrap_or_else(|| panic!("{name}: no error, ops {ops:?}"));
        assert_eq!(ops.len(), n_ops, "{name}: {ops:?}");
        assert_eq!(err.client_error(), want, "{name}: {err}");
        // The same verdict however the input is cut in two.
        for cut in 0..=input.len() {
            let (ops2, err2) = parse_chunks(setup, input, &[cut]);
            assert_eq!(ops2, ops, "{name} cut {cut}");
            let err2 = err2.unwrap_or_else(|| panic!("{name} cut {cut}: no error"));
            assert_eq!(err2.client_error(), want, "{name} cut {cut}");
        }
    }
}

/// Like [`SMALL`] but before `CONNECT` (headers off).
const SMALL_NO_HDR: Setup = Setup {
    headers: false,
    ..SMALL
};

/// Specific error variants, so the log text matches Go's.
#[test]
fn error_variants() {
    let cases: Vec<(Setup, &[u8], ParseError)> = vec![
        (PLAIN, b"PUB foo\r\n", ParseError::PubArgs(b(b"foo"))),
        (PLAIN, b"PUB foo x\r\n", ParseError::PubSize(b(b"foo x"))),
        (HEADERS, b"HPUB foo\r\n", ParseError::HPubArgs(b(b"foo"))),
        (
            HEADERS,
            b"HPUB foo x 1\r\n",
            ParseError::HPubHeaderSize(b(b"foo x 1")),
        ),
        (
            HEADERS,
            b"HPUB foo 1 x\r\n",
            ParseError::HPubTotalSize(b(b"foo 1 x")),
        ),
        (
            HEADERS,
            b"HPUB foo 2 1\r\n",
            ParseError::HPubHeaderTooLarge(b(b"foo 2 1")),
        ),
        (PLAIN, b"HPUB foo 2 1\r\n", ParseError::HeadersNotSupported),
        (PLAIN, b"SUB foo\r\n", ParseError::SubArgs(b(b"foo"))),
        (PLAIN, b"UNSUB\t\r\n", ParseError::UnsubArgs(b(b"\r"))),
        (AUTH, b"SUB", ParseError::AuthViolation),
        (
            PLAIN,
            b"PUB foo 1048577\r\n",
            ParseError::MaxPayload {
                size: 1_048_577,
                max: DEFAULT_MAX_PAYLOAD,
            },
        ),
        (
            SMALL,
            b"CONNECT {\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\r\n",
            ParseError::MaxControlLine { len: 34, max: 32 },
        ),
        (
            PLAIN,
            b"PUB foo 1\r\nxy",
            ParseError::UnknownOp {
                state: "expecting \\r after the payload",
                byte: b'y',
            },
        ),
    ];
    for (setup, input, want) in cases {
        assert_eq!(parse_all(setup, input).1, Some(want));
    }
    assert_eq!(
        ParseError::PubArgs(b(b"foo")).to_string(),
        "processPub Parse Error: b\"foo\""
    );
}

/// A partial frame waits for more bytes and leaves nothing consumed that matters.
#[test]
fn partial_frames_wait() {
    let partial: &[&[u8]] = &[
        b"",
        b"P",
        b"PU",
        b"PUB",
        b"PUB ",
        b"PUB foo",
        b"PUB foo 5",
        b"PUB foo 5\r",
        b"PUB foo 5\r\n",
        b"PUB foo 5\r\nhel",
        b"PUB foo 5\r\nhello",
        b"PUB foo 5\r\nhello\r",
        b"PING",
        b"PING\r",
        b"CONNECT",
        b"CONNECT {}",
        b"CONNECT {}\r",
        b"+OK",
        b"-ERR 'x'",
        b"SUB foo 1",
    ];
    for input in partial {
        assert_eq!(
            parse_all(HEADERS, input),
            (vec![], None),
            "{:?}",
            Bytes::from_static(input)
        );
    }
    // Exactly 32 argument bytes without a line end is still within the limit.
    let p32 = [b"PUB ".as_slice(), &[b'a'; 32]].concat();
    assert_eq!(parse_all(SMALL, &p32), (vec![], None));
}

/// A mix of every op, used for the split properties.
fn mixed_ops() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(b"CONNECT {\"verbose\":false,\"headers\":true}\r\n");
    v.extend_from_slice(b"PING\r\npong\r\n+OK\r\n");
    v.extend_from_slice(b"SUB foo 1\r\nsub   bar\tq  22\r\n");
    v.extend_from_slice(b"PUB foo 5\r\nhello\r\n");
    v.extend_from_slice(b"PUB foo reply.x 0\r\n\r\n");
    v.extend_from_slice(b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    v.extend_from_slice(b"hpub a b 17 21\r\nNATS/1.0\r\nA:b\r\n\r\nbody\r\n");
    v.extend_from_slice(b"PUB big 300\r\n");
    v.extend((0..300u32).map(|i| b"\r\n\tPUB x"[(i % 7) as usize]));
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(b"UNSUB 1\r\nUNSUB 22 5\r\nINFO {}\r\nPINGjunk\n");
    v.extend_from_slice(b"PUB foo 2\nhi\r\n-ERR 'bye'\r\n");
    v
}

/// Splitting the stream at any single byte gives the same ops as one read.
#[test]
fn split_at_every_byte_same_ops() {
    let input = mixed_ops();
    let whole = parse_all(HEADERS, &input);
    assert_eq!(whole.1, None);
    assert_eq!(whole.0.len(), 17);
    for cut in 0..=input.len() {
        assert_eq!(parse_chunks(HEADERS, &input, &[cut]), whole, "cut at {cut}");
    }
    let every: Vec<usize> = (1..input.len()).collect();
    assert_eq!(parse_chunks(HEADERS, &input, &every), whole, "byte by byte");
}

/// Subjects and payloads are slices of the read buffer, not copies.
#[test]
fn zero_copy() {
    let input = b"PUB foo.bar 5\r\nhello\r\nHPUB h r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
    let mut buf = BytesMut::with_capacity(1024);
    buf.extend_from_slice(input);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + input.len();
    let inside = |bytes: &Bytes| range.contains(&(bytes.as_ptr() as usize));
    let mut p = parser(HEADERS);
    let Ok(Some(ClientOp::Pub {
        subject, payload, ..
    })) = p.next_op(&mut buf)
    else {
        panic!("expected PUB");
    };
    assert!(inside(&subject) && inside(&payload));
    let Ok(Some(ClientOp::HPub {
        subject,
        reply,
        headers,
        payload,
    })) = p.next_op(&mut buf)
    else {
        panic!("expected HPUB");
    };
    let reply = reply.unwrap_or_default();
    assert!(inside(&subject) && inside(&reply) && inside(&headers) && inside(&payload));
    assert!(buf.is_empty());
}

/// A 256 KiB payload and a 64 KiB control line fed one byte at a time finish quickly
/// (quadratic rescanning would take minutes), and the payload size is announced.
#[test]
fn no_rescan_of_large_frames() {
    const N: usize = 256 * 1024;
    let mut input = format!("PUB big {N}\r\n").into_bytes();
    input.extend(std::iter::repeat_n(b'z', N));
    input.extend_from_slice(b"\r\nCONNECT ");
    input.extend(std::iter::repeat_n(b'c', 64 * 1024));
    input.extend_from_slice(b"\r\n");
    let setup = Setup {
        limits: ParserLimits {
            max_control_line: 64 * 1024,
            max_payload: N,
        },
        ..PLAIN
    };
    let mut p = parser(setup);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for (i, &byte) in input.iter().enumerate() {
        buf.extend_from_slice(&[byte]);
        assert_eq!(drain(&mut p, &mut buf, &mut ops), None);
        if i == 20 {
            assert_eq!(p.awaiting_payload(), Some(N + 2));
        }
    }
    assert!(
        matches!(&ops[..], [ClientOp::Pub { payload, .. }, ClientOp::Connect(arg)]
        if payload.len() == N && arg.len() == 64 * 1024)
    );
}

/// Bytes Go drops (PING tails, blank runs) are not kept in the buffer.
#[test]
fn dropped_bytes_are_not_buffered() {
    let mut p = parser(PLAIN);
    let mut buf = BytesMut::from(&b"PING"[..]);
    for _ in 0..100 {
        buf.extend_from_slice(&[b'x'; 1000]);
        assert_eq!(p.next_op(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }
    buf.extend_from_slice(b"\nPUB");
    assert_eq!(p.next_op(&mut buf), Ok(Some(ClientOp::Ping)));
    buf.extend_from_slice(&[b' '; 10_000]);
    assert_eq!(p.next_op(&mut buf), Ok(None));
    assert!(buf.is_empty());
}

/// The first error sticks; limits, headers and auth can change between ops.
#[test]
fn state_changes_between_ops() {
    let mut p = parser(AUTH);
    let mut buf = BytesMut::from(&b"CONNECT {}\r\nHPUB a 0 1\r\nx\r\nPUB a 3\r\n"[..]);
    assert_eq!(p.next_op(&mut buf), Ok(Some(ClientOp::Connect(b(b"{}")))));
    p.set_auth_pending(false);
    p.set_headers(true);
    assert_eq!(p.next_op(&mut buf), Ok(Some(hpub(b"a", None, b"", b"x"))));
    p.set_limits(ParserLimits {
        max_payload: 2,
        ..p.limits()
    });
    let err = p.next_op(&mut buf);
    assert_eq!(err, Err(ParseError::MaxPayload { size: 3, max: 2 }));
    buf.extend_from_slice(b"PING\r\n");
    assert_eq!(p.next_op(&mut buf), err);
}

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    /// Next pseudo-random value.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random protocol-flavoured garbage never panics, and one random cut never changes the
/// outcome (the `MaxControlLine` length may differ, so errors compare by `-ERR` text and
/// variant).
#[test]
fn random_garbage_never_panics() {
    const TOKENS: &[&[u8]] = &[
        b"PUB ",
        b"HPUB ",
        b"SUB ",
        b"UNSUB ",
        b"PING",
        b"PONG",
        b"CONNECT ",
        b"INFO ",
        b"+OK",
        b"-ERR ",
        b"HMSG ",
        b"\r\n",
        b"\r",
        b"\n",
        b" ",
        b"\t",
        b"foo",
        b"0",
        b"1",
        b"5",
        b"12",
        b"14",
        b"999999999",
        b"hello",
        b"{}",
        b"NATS/1.0\r\n\r\n",
        b"p",
        b"x",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..3000 {
        let mut input = Vec::new();
        for _ in 0..rng.below(40) {
            if rng.below(4) == 0 {
                input.push(rng.next() as u8);
            } else {
                input.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
            }
        }
        let setup = [PLAIN, HEADERS, SMALL, AUTH][round % 4];
        let whole = parse_all(setup, &input);
        let cut = rng.below(input.len() + 1);
        let split = parse_chunks(setup, &input, &[cut]);
        assert_eq!(
            split.0,
            whole.0,
            "{:?} cut {cut}",
            Bytes::from(input.clone())
        );
        let kind = |e: &Option<ParseError>| {
            e.as_ref()
                .map(|e| (std::mem::discriminant(e), e.client_error()))
        };
        assert_eq!(
            kind(&split.1),
            kind(&whole.1),
            "{:?} cut {cut}",
            Bytes::from(input)
        );
    }
}
