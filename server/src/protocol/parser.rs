//! Incremental, zero-copy parser for the client → server direction of the NATS protocol.
//!
//! A connection's read loop appends socket bytes to a [`BytesMut`] and calls
//! [`Parser::next_op`] until it returns `Ok(None)`. Each complete operation is split off
//! the front of that buffer; subjects, replies, headers and payloads are `Bytes` views of
//! the read buffer's allocation, never copies. A partial frame stays in the buffer and the
//! parser remembers how far it has already looked (how much of a control line was scanned
//! for its line feed, or that a `PUB` line was parsed and N payload bytes are awaited), so
//! a large message arriving in small pieces is not rescanned.
//!
//! The behaviour mirrors the Go `nats-server` (`server/parser.go` `client.parse` plus the
//! `process*` functions of `server/client.go`) byte for byte, because jetcore is a drop-in
//! replacement and clients rely on its exact error replies:
//!
//! * verbs are case-insensitive; a first byte that starts no client verb (including `\r`,
//!   `\n` and a blank, so empty lines) is `-ERR 'Unknown Protocol Operation'`;
//! * `PUB`, `HPUB`, `SUB`, `UNSUB` and `-ERR` need a blank after the verb; any run of
//!   spaces/tabs then precedes the argument, which is the rest of the line;
//! * `HMSG` (route/leaf only) is read up to its line end and then rejected as unknown;
//! * `CONNECT` and `INFO` need no blank: the argument starts at the first non-blank byte;
//! * `PING`, `PONG` and `+OK` ignore everything up to the next `\n`;
//! * a line ends at `\n`; if a `\r` occurred in the argument after its first byte, the last
//!   byte before the `\n` is dropped (normally that `\r`), so bare-LF lines work too;
//! * the argument (verb and blanks after it excluded) may be at most `max_control_line`
//!   bytes, checked on every complete line and on a partial line when more bytes are
//!   needed; `PING`/`PONG`/`+OK` tails and blank runs are never limited (they are dropped);
//! * `PUB`/`HPUB` sizes are 1 to 9 decimal digits; the total size is checked against
//!   `max_payload` as soon as the control line is complete, before any payload arrives;
//! * the payload must be followed by `\r\n`, otherwise `Unknown Protocol Operation`.
//!
//! Errors that Go reports from its `process*` functions (bad argument counts, bad sizes,
//! headers not enabled) close the connection without any `-ERR`; see
//! [`ParseError::client_error`]. Server-level checks (JSON of `CONNECT`/`INFO`, subject
//! validity, pedantic mode, sid bookkeeping, verbose `+OK`) are left to the caller.

use bytes::{Buf, Bytes, BytesMut};
use memchr::{memchr, memchr2};

/// Go's `MAX_CONTROL_LINE_SIZE`: the default limit for one control-line argument.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;

/// Go's `MAX_PAYLOAD_SIZE`: the default limit for one message (headers plus payload).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// Longest decimal size Go's `parseSize` accepts (`999999999`).
const MAX_SIZE_DIGITS: usize = 9;

/// Per-connection limits enforced while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    /// Longest allowed control-line argument in bytes (Go `max_control_line`, `c.mcl`).
    pub max_control_line: usize,
    /// Largest allowed `PUB`/`HPUB` total size in bytes (Go `max_payload`, `c.mpay`);
    /// `usize::MAX` stands for Go's "no limit" (-1).
    pub max_payload: usize,
}

impl Default for ParserLimits {
    fn default() -> Self {
        Self {
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// One complete operation sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT <json>`: the rest of the line, not validated. Go closes the connection
    /// without `-ERR` when it is not valid JSON for its client options.
    Connect(Bytes),
    /// `PUB <subject> [reply] <size>` followed by the payload (without its final CRLF).
    Pub {
        /// Subject as sent (not validated; Go validates only in pedantic mode).
        subject: Bytes,
        /// Optional reply subject.
        reply: Option<Bytes>,
        /// Message body, exactly `size` bytes.
        payload: Bytes,
    },
    /// `HPUB <subject> [reply] <header size> <total size>` followed by the message.
    HPub {
        /// Subject as sent.
        subject: Bytes,
        /// Optional reply subject.
        reply: Option<Bytes>,
        /// The first `header size` bytes of the message: the header block including its
        /// final CRLFCRLF. Go does not validate it and accepts a size of 0 (empty).
        headers: Bytes,
        /// The remaining `total - header` bytes (without the final CRLF).
        payload: Bytes,
    },
    /// `SUB <subject> [queue] <sid>`. These `Bytes` share the read buffer's allocation;
    /// copy them before storing them for the subscription's lifetime.
    Sub {
        /// Subject as sent (Go answers `-ERR 'Invalid Subject'` without closing).
        subject: Bytes,
        /// Optional queue group.
        queue: Option<Bytes>,
        /// Subscription id, any non-blank token.
        sid: Bytes,
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// Subscription id; an unknown sid is silently accepted by Go.
        sid: Bytes,
        /// Auto-unsubscribe after this many delivered messages in total. `None` means
        /// "remove now": the argument was absent, `0`, or not 1-9 decimal digits (Go's
        /// `parseSize` yields -1 and Go then unsubscribes at once, without error).
        max: Option<u64>,
    },
    /// `PING`: answer `PONG`.
    Ping,
    /// `PONG`.
    Pong,
    /// `INFO <json>` sent by a client: the rest of the line. Go ignores it for clients but
    /// still closes the connection without `-ERR` when it is not valid JSON.
    Info(Bytes),
    /// `+OK`.
    Ok,
    /// `-ERR <text>`: the rest of the line. Go logs it and closes the connection without
    /// replying.
    Err(Bytes),
}

/// Why parsing failed. Every error closes the connection, as Go does; the variant decides
/// which `-ERR` text (if any) is sent first, see [`ParseError::client_error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A byte that no client operation allows at this point (Go's `parseErr` label).
    #[error("unknown protocol operation: byte {byte:#04x} while {state}")]
    UnknownOp {
        /// What the parser expected, for logs.
        state: &'static str,
        /// The offending byte.
        byte: u8,
    },
    /// An operation other than `CONNECT` while authentication is pending.
    #[error("authentication error: operation before CONNECT")]
    AuthViolation,
    /// A control-line argument longer than `max_control_line`.
    #[error("maximum control line exceeded: {len} > {max}")]
    MaxControlLine {
        /// Argument bytes seen so far.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// A `PUB`/`HPUB` total size above `max_payload`.
    #[error("maximum payload exceeded: {size} vs {max}")]
    MaxPayload {
        /// Announced total size.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// `HPUB` on a connection that did not enable headers.
    #[error("message headers not supported")]
    HeadersNotSupported,
    /// `PUB` without 2 or 3 arguments.
    #[error("processPub Parse Error: {0:?}")]
    PubArgs(Bytes),
    /// `PUB` size that is not 1-9 decimal digits.
    #[error("processPub Bad or Missing Size: {0:?}")]
    PubSize(Bytes),
    /// `HPUB` without 3 or 4 arguments.
    #[error("processHeaderPub Parse Error: {0:?}")]
    HPubArgs(Bytes),
    /// `HPUB` header size that is not 1-9 decimal digits.
    #[error("processHeaderPub Bad or Missing Header Size: {0:?}")]
    HPubHeaderSize(Bytes),
    /// `HPUB` total size that is not 1-9 decimal digits.
    #[error("processHeaderPub Bad or Missing Total Size: {0:?}")]
    HPubTotalSize(Bytes),
    /// `HPUB` header size larger than its total size.
    #[error("processHeaderPub Header Size larger then TotalSize: {0:?}")]
    HPubHeaderTooLarge(Bytes),
    /// `SUB` without 2 or 3 arguments.
    #[error("processSub Parse Error: {0:?}")]
    SubArgs(Bytes),
    /// `UNSUB` without 1 or 2 arguments.
    #[error("processUnsub Parse Error: {0:?}")]
    UnsubArgs(Bytes),
}

impl ParseError {
    /// The text Go sends as `-ERR '<text>'\r\n` before closing; `None` when Go closes the
    /// connection without sending anything.
    pub fn client_error(&self) -> Option<&'static str> {
        match self {
            Self::UnknownOp { .. } => Some("Unknown Protocol Operation"),
            Self::AuthViolation => Some("Authorization Violation"),
            Self::MaxControlLine { .. } => Some("maximum control line exceeded"),
            Self::MaxPayload { .. } => Some("Maximum Payload Violation"),
            _ => None,
        }
    }
}

/// A verb the client parser knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    /// `PUB`.
    Pub,
    /// `HPUB`.
    HPub,
    /// `HMSG`: route/leaf only, but Go's client parser reads its line before failing.
    HMsg,
    /// `SUB`.
    Sub,
    /// `UNSUB`.
    Unsub,
    /// `CONNECT`.
    Connect,
    /// `INFO`.
    Info,
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK`.
    Ok,
    /// `-ERR`.
    Err,
}

impl Verb {
    /// The verb spelled in upper case.
    fn word(self) -> &'static [u8] {
        match self {
            Self::Pub => b"PUB",
            Self::HPub => b"HPUB",
            Self::HMsg => b"HMSG",
            Self::Sub => b"SUB",
            Self::Unsub => b"UNSUB",
            Self::Connect => b"CONNECT",
            Self::Info => b"INFO",
            Self::Ping => b"PING",
            Self::Pong => b"PONG",
            Self::Ok => b"+OK",
            Self::Err => b"-ERR",
        }
    }

    /// The state that follows the fully spelled verb.
    fn after_word(self) -> State {
        match self {
            Self::Connect | Self::Info => State::Blanks(self),
            Self::Ping | Self::Pong | Self::Ok => State::LineTail(self),
            _ => State::NeedBlank(self),
        }
    }
}

/// A message whose control line is parsed and whose body is awaited.
#[derive(Debug, Clone)]
struct PendingMsg {
    /// Subject.
    subject: Bytes,
    /// Optional reply subject.
    reply: Option<Bytes>,
    /// Header size for `HPUB`, `None` for `PUB`.
    header_size: Option<usize>,
    /// Total body size (headers plus payload), without the final CRLF.
    size: usize,
}

/// Where the parser is inside the current operation.
#[derive(Debug, Clone)]
enum State {
    /// At an operation boundary.
    Start,
    /// Saw `P` (`Pub`: `PUB`, `PING` or `PONG` follows) or `H` (`HPub`: `HPUB` or `HMSG`).
    Family(Verb),
    /// Spelling out a verb; the first `matched` bytes are consumed.
    Word {
        /// The verb being spelled.
        verb: Verb,
        /// How many of its bytes matched.
        matched: usize,
    },
    /// Verb complete; one space or tab must follow.
    NeedBlank(Verb),
    /// Skipping spaces and tabs before the argument.
    Blanks(Verb),
    /// Inside the argument, which starts at the front of the buffer.
    Arg {
        /// The verb it belongs to.
        verb: Verb,
        /// Bytes already searched for `\n`.
        scanned: usize,
        /// A `\r` was seen after the argument's first byte.
        saw_cr: bool,
    },
    /// `PING`/`PONG`/`+OK`: dropping bytes up to `\n`.
    LineTail(Verb),
    /// Control line parsed; waiting for the body and its CRLF.
    Payload(Box<PendingMsg>),
}

/// What one state step achieved.
enum Step {
    /// The state changed; keep going.
    Continue,
    /// The buffer holds no further complete piece.
    NeedMore,
    /// An operation is complete.
    Done(ClientOp),
}

/// The per-connection protocol parser.
#[derive(Debug, Clone)]
pub struct Parser {
    /// Limits in force.
    limits: ParserLimits,
    /// `HPUB` is allowed (Go's `c.headers`: CONNECT said `headers:true`).
    headers: bool,
    /// Only `CONNECT` may come next (Go's `awaitingAuth()`).
    auth_pending: bool,
    /// Current position inside an operation.
    state: State,
    /// The first error; returned again on every later call.
    failed: Option<ParseError>,
}

impl Parser {
    /// A parser at an operation boundary, with headers disabled and no pending auth.
    pub fn new(limits: ParserLimits) -> Self {
        Self {
            limits,
            headers: false,
            auth_pending: false,
            state: State::Start,
            failed: None,
        }
    }

    /// Replaces the limits (e.g. the account's `max_payload` after `CONNECT`).
    pub fn set_limits(&mut self, limits: ParserLimits) {
        self.limits = limits;
    }

    /// The limits in force.
    pub fn limits(&self) -> ParserLimits {
        self.limits
    }

    /// Allows or forbids `HPUB`. Go starts with headers off and turns them on when
    /// `CONNECT` has `"headers":true` and the server supports headers; an `HPUB` while off
    /// is [`ParseError::HeadersNotSupported`] (closed without `-ERR`).
    pub fn set_headers(&mut self, enabled: bool) {
        self.headers = enabled;
    }

    /// Marks whether authentication is pending (Go's `awaitingAuth()`): while set, an
    /// operation whose first byte is not `C`/`c` is [`ParseError::AuthViolation`]. Set it
    /// on connections that require auth and clear it once `CONNECT` succeeded.
    pub fn set_auth_pending(&mut self, pending: bool) {
        self.auth_pending = pending;
    }

    /// While a message body is awaited: how many bytes the buffer must hold from its front
    /// (body plus CRLF), so the caller can reserve room for it in one go.
    pub fn awaiting_payload(&self) -> Option<usize> {
        match &self.state {
            State::Payload(msg) => Some(msg.size + 2),
            _ => None,
        }
    }

    /// Takes one complete op off the front of `buf`. `Ok(None)` means more bytes are
    /// needed; `buf` then keeps the unconsumed part of a partial frame. Never panics; after
    /// an error the same error is returned on every later call.
    pub fn next_op(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ParseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.run(buf);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Steps the state machine until an op is complete or more bytes are needed. Each
    /// handler gets the state by value and stores the follow-up state itself.
    fn run(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ParseError> {
        loop {
            let step = match std::mem::replace(&mut self.state, State::Start) {
                State::Start => self.start(buf)?,
                State::Family(family) => self.second_byte(buf, family)?,
                State::Word { verb, matched } => self.word(buf, verb, matched)?,
                State::NeedBlank(verb) => self.need_blank(buf, verb)?,
                State::Blanks(verb) => self.blanks(buf, verb),
                State::Arg {
                    verb,
                    scanned,
                    saw_cr,
                } => self.arg(buf, verb, scanned, saw_cr)?,
                State::LineTail(verb) => self.line_tail(buf, verb),
                State::Payload(msg) => self.payload(buf, msg)?,
            };
            match step {
                Step::Continue => {}
                Step::NeedMore => return Ok(None),
                Step::Done(op) => return Ok(Some(op)),
            }
        }
    }

    /// First byte of an operation.
    fn start(&mut self, buf: &mut BytesMut) -> Result<Step, ParseError> {
        let Some(&b) = buf.first() else {
            return Ok(Step::NeedMore);
        };
        if self.auth_pending && !b.eq_ignore_ascii_case(&b'C') {
            return Err(ParseError::AuthViolation);
        }
        let next = match b.to_ascii_uppercase() {
            b'P' => State::Family(Verb::Pub),
            b'H' => State::Family(Verb::HPub),
            b'S' => spelling(Verb::Sub),
            b'U' => spelling(Verb::Unsub),
            b'C' => spelling(Verb::Connect),
            b'I' => spelling(Verb::Info),
            b'+' => spelling(Verb::Ok),
            b'-' => spelling(Verb::Err),
            _ => return Err(unknown("expecting an operation", b)),
        };
        buf.advance(1);
        self.state = next;
        Ok(Step::Continue)
    }

    /// Second byte after `P` (`family` = `Pub`) or `H` (`family` = `HPub`).
    fn second_byte(&mut self, buf: &mut BytesMut, family: Verb) -> Result<Step, ParseError> {
        let Some(&b) = buf.first() else {
            self.state = State::Family(family);
            return Ok(Step::NeedMore);
        };
        let verb = match (family, b.to_ascii_uppercase()) {
            (Verb::Pub, b'U') => Verb::Pub,
            (Verb::Pub, b'I') => Verb::Ping,
            (Verb::Pub, b'O') => Verb::Pong,
            (Verb::HPub, b'P') => Verb::HPub,
            (Verb::HPub, b'M') => Verb::HMsg,
            _ => return Err(unknown("spelling a verb", b)),
        };
        buf.advance(1);
        self.state = State::Word { verb, matched: 2 };
        Ok(Step::Continue)
    }

    /// Remaining letters of a verb.
    fn word(&mut self, buf: &mut BytesMut, verb: Verb, matched: usize) -> Result<Step, ParseError> {
        let word = verb.word();
        let mut matched = matched;
        while matched < word.len() {
            let Some(&b) = buf.first() else {
                self.state = State::Word { verb, matched };
                return Ok(Step::NeedMore);
            };
            if b.to_ascii_uppercase() != word[matched] {
                return Err(unknown("spelling a verb", b));
            }
            buf.advance(1);
            matched += 1;
        }
        self.state = verb.after_word();
        Ok(Step::Continue)
    }

    /// The one space or tab a verb with arguments requires.
    fn need_blank(&mut self, buf: &mut BytesMut, verb: Verb) -> Result<Step, ParseError> {
        let Some(&b) = buf.first() else {
            self.state = State::NeedBlank(verb);
            return Ok(Step::NeedMore);
        };
        if !is_blank(b) {
            return Err(unknown("expecting a blank after the verb", b));
        }
        buf.advance(1);
        self.state = State::Blanks(verb);
        Ok(Step::Continue)
    }

    /// Drops spaces and tabs; the first other byte (even `\r` or `\n`) starts the argument.
    fn blanks(&mut self, buf: &mut BytesMut, verb: Verb) -> Step {
        let n = buf.iter().take_while(|&&b| is_blank(b)).count();
        buf.advance(n);
        if buf.is_empty() {
            self.state = State::Blanks(verb);
            return Step::NeedMore;
        }
        self.state = State::Arg {
            verb,
            scanned: 1,
            saw_cr: false,
        };
        Step::Continue
    }

    /// Looks for the `\n` ending the argument, resuming where the last call stopped.
    fn arg(
        &mut self,
        buf: &mut BytesMut,
        verb: Verb,
        mut scanned: usize,
        mut saw_cr: bool,
    ) -> Result<Step, ParseError> {
        while let Some(at) = buf
            .get(scanned..)
            .and_then(|rest| memchr2(b'\r', b'\n', rest))
        {
            let pos = scanned + at;
            if buf[pos] == b'\n' {
                return self.complete_line(buf, verb, pos, saw_cr);
            }
            saw_cr = true;
            scanned = pos + 1;
        }
        scanned = scanned.max(buf.len());
        self.state = State::Arg {
            verb,
            scanned,
            saw_cr,
        };
        // Go checks the partial argument at the end of every read.
        self.check_control_line(buf.len() - usize::from(saw_cr))?;
        Ok(Step::NeedMore)
    }

    /// The argument ends at `nl`: cut the line off and interpret it.
    fn complete_line(
        &mut self,
        buf: &mut BytesMut,
        verb: Verb,
        nl: usize,
        saw_cr: bool,
    ) -> Result<Step, ParseError> {
        // `saw_cr` implies a `\r` at index >= 1 before `nl`, so this cannot underflow.
        let len = nl - usize::from(saw_cr);
        self.check_control_line(len)?;
        let line = buf.split_to(nl + 1).freeze();
        let arg = line.slice(..len);
        self.state = State::Start;
        let op = match verb {
            Verb::Connect => ClientOp::Connect(arg),
            Verb::Info => ClientOp::Info(arg),
            Verb::Err => ClientOp::Err(arg),
            Verb::Sub => parse_sub(arg)?,
            Verb::Unsub => parse_unsub(arg)?,
            Verb::Pub => return self.begin_pub(arg),
            Verb::HPub => return self.begin_hpub(arg),
            // Go's client parser reads an HMSG line, then (for clients) fails with
            // `parseErr` unless the empty body `\r\n` came in the same read; being
            // independent of read boundaries, we always fail at the line end.
            Verb::HMsg => return Err(unknown("ending a route/leaf-only HMSG line", b'\n')),
            // These never reach the argument state (they use `LineTail`).
            Verb::Ping | Verb::Pong | Verb::Ok => return Err(unknown("reading a line", b'\n')),
        };
        Ok(Step::Done(op))
    }

    /// Go's `overMaxControlLineLimit`.
    fn check_control_line(&self, len: usize) -> Result<(), ParseError> {
        let max = self.limits.max_control_line;
        if len > max {
            return Err(ParseError::MaxControlLine { len, max });
        }
        Ok(())
    }

    /// Go's `processPub`: `<subject> [reply] <size>`.
    fn begin_pub(&mut self, arg: Bytes) -> Result<Step, ParseError> {
        let f = Fields::<3>::split(&arg, is_blank);
        let (subject, reply, size) = match f.count {
            2 => (f.get(&arg, 0), None, f.get(&arg, 1)),
            3 => (f.get(&arg, 0), Some(f.get(&arg, 1)), f.get(&arg, 2)),
            _ => return Err(ParseError::PubArgs(arg)),
        };
        let size = parse_size(&size).ok_or_else(|| ParseError::PubSize(arg.clone()))?;
        self.check_payload(size)?;
        Ok(self.await_body(subject, reply, None, size))
    }

    /// Go's `processHeaderPub`: `<subject> [reply] <header size> <total size>`.
    fn begin_hpub(&mut self, arg: Bytes) -> Result<Step, ParseError> {
        if !self.headers {
            return Err(ParseError::HeadersNotSupported);
        }
        let f = Fields::<4>::split(&arg, is_blank);
        let (subject, reply, hdr, size) = match f.count {
            3 => (f.get(&arg, 0), None, f.get(&arg, 1), f.get(&arg, 2)),
            4 => {
                let reply = Some(f.get(&arg, 1));
                (f.get(&arg, 0), reply, f.get(&arg, 2), f.get(&arg, 3))
            }
            _ => return Err(ParseError::HPubArgs(arg)),
        };
        let hdr = parse_size(&hdr).ok_or_else(|| ParseError::HPubHeaderSize(arg.clone()))?;
        let size = parse_size(&size).ok_or_else(|| ParseError::HPubTotalSize(arg.clone()))?;
        if hdr > size {
            return Err(ParseError::HPubHeaderTooLarge(arg));
        }
        self.check_payload(size)?;
        Ok(self.await_body(subject, reply, Some(hdr), size))
    }

    /// Go's `maxPayloadViolation` check, made before the body arrives.
    fn check_payload(&self, size: usize) -> Result<(), ParseError> {
        let max = self.limits.max_payload;
        if size > max {
            return Err(ParseError::MaxPayload { size, max });
        }
        Ok(())
    }

    /// Switches to waiting for a body of `size` bytes plus CRLF.
    fn await_body(
        &mut self,
        subject: Bytes,
        reply: Option<Bytes>,
        header_size: Option<usize>,
        size: usize,
    ) -> Step {
        self.state = State::Payload(Box::new(PendingMsg {
            subject,
            reply,
            header_size,
            size,
        }));
        Step::Continue
    }

    /// Waits for the body and its CRLF; checks the CRLF bytes as soon as they arrive.
    fn payload(&mut self, buf: &mut BytesMut, msg: Box<PendingMsg>) -> Result<Step, ParseError> {
        let size = msg.size;
        if let Some(&b) = buf.get(size).filter(|&&b| b != b'\r') {
            return Err(unknown("expecting \\r after the payload", b));
        }
        if let Some(&b) = buf.get(size + 1).filter(|&&b| b != b'\n') {
            return Err(unknown("expecting \\n after the payload", b));
        }
        if buf.len() < size + 2 {
            self.state = State::Payload(msg);
            return Ok(Step::NeedMore);
        }
        let mut body = buf.split_to(size).freeze();
        buf.advance(2);
        let PendingMsg {
            subject,
            reply,
            header_size,
            ..
        } = *msg;
        let op = match header_size {
            Some(hdr) => ClientOp::HPub {
                subject,
                reply,
                headers: body.split_to(hdr),
                payload: body,
            },
            None => ClientOp::Pub {
                subject,
                reply,
                payload: body,
            },
        };
        Ok(Step::Done(op))
    }

    /// Drops the rest of a `PING`/`PONG`/`+OK` line without buffering it.
    fn line_tail(&mut self, buf: &mut BytesMut, verb: Verb) -> Step {
        let Some(nl) = memchr(b'\n', buf) else {
            buf.clear();
            self.state = State::LineTail(verb);
            return Step::NeedMore;
        };
        buf.advance(nl + 1);
        self.state = State::Start;
        Step::Done(match verb {
            Verb::Ping => ClientOp::Ping,
            Verb::Pong => ClientOp::Pong,
            _ => ClientOp::Ok,
        })
    }
}

/// Go's `splitArg` (`SUB`/`UNSUB`): fields are separated by spaces, tabs, `\r` and `\n`.
fn is_split_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Go's `PUB`/`HPUB` field separators: spaces and tabs only.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Go's `parseSub` for `SUB <subject> [queue] <sid>`.
fn parse_sub(arg: Bytes) -> Result<ClientOp, ParseError> {
    let f = Fields::<3>::split(&arg, is_split_sep);
    let (subject, queue, sid) = match f.count {
        2 => (f.get(&arg, 0), None, f.get(&arg, 1)),
        3 => (f.get(&arg, 0), Some(f.get(&arg, 1)), f.get(&arg, 2)),
        _ => return Err(ParseError::SubArgs(arg)),
    };
    Ok(ClientOp::Sub {
        subject,
        queue,
        sid,
    })
}

/// Go's `processUnsub` for `UNSUB <sid> [max]`.
fn parse_unsub(arg: Bytes) -> Result<ClientOp, ParseError> {
    let f = Fields::<2>::split(&arg, is_split_sep);
    let (sid, max) = match f.count {
        1 => (f.get(&arg, 0), None),
        2 => (f.get(&arg, 0), parse_size(&f.get(&arg, 1))),
        _ => return Err(ParseError::UnsubArgs(arg)),
    };
    let max = max.filter(|&n| n > 0).map(|n| n as u64);
    Ok(ClientOp::Unsub { sid, max })
}

/// Go's `parseSize`: 1 to 9 ASCII digits, nothing else.
fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > MAX_SIZE_DIGITS {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// The state after the first letter of `verb`.
fn spelling(verb: Verb) -> State {
    State::Word { verb, matched: 1 }
}

/// Builds a [`ParseError::UnknownOp`].
fn unknown(state: &'static str, byte: u8) -> ParseError {
    ParseError::UnknownOp { state, byte }
}

/// The positions of up to `N` fields of an argument; `count` keeps counting past `N`.
struct Fields<const N: usize> {
    /// Start and end of each of the first `N` fields.
    spans: [(usize, usize); N],
    /// Number of fields in the argument.
    count: usize,
}

impl<const N: usize> Fields<N> {
    /// Splits `arg` at runs of bytes for which `sep` holds.
    fn split(arg: &[u8], sep: fn(u8) -> bool) -> Self {
        let mut fields = Self {
            spans: [(0, 0); N],
            count: 0,
        };
        let mut start = None;
        for (i, &b) in arg.iter().enumerate() {
            match (sep(b), start) {
                (true, Some(s)) => {
                    fields.push(s, i);
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(s) = start {
            fields.push(s, arg.len());
        }
        fields
    }

    /// Records one field.
    fn push(&mut self, start: usize, end: usize) {
        if let Some(span) = self.spans.get_mut(self.count) {
            *span = (start, end);
        }
        self.count += 1;
    }

    /// Field `i` as a zero-copy slice of `arg` (empty if out of range).
    fn get(&self, arg: &Bytes, i: usize) -> Bytes {
        self.spans
            .get(i)
            .map_or_else(Bytes::new, |&(s, e)| arg.slice(s..e))
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
