//! JetStream consumer scenarios of `jetcore-loadgen` (`js-consume`, or one of
//! `js-pull-fetch`, `js-pull-consume`, `js-push`, `js-ordered`).
//!
//! Every run starts the server with JetStream on a fresh store directory (as js-pub,
//! `--jetcore-config` / `--go-config` included), creates the stream `BENCH` (subjects
//! `bench.>`, `--storage` file or memory), preloads `--count` messages (default
//! 100,000; 1,000,000 with `--long`) of `--size` bytes on a control connection with a
//! window of `--window` outstanding PubAcks (every PubAck checked; not timed), then
//! consumes them all on a second connection, over raw protocol, as the clients do:
//!
//! - `js-pull-fetch`: durable pull consumer `PULL`, explicit ack. Loop: one
//!   `$JS.API.CONSUMER.MSG.NEXT.BENCH.PULL` request `{"batch":B,"expires":5s}` (B =
//!   `--batch`, default 100, the last one only what is left), receive its B messages,
//!   `+ACK` each to its `$JS.ACK...` reply subject (no reply asked), next request.
//!   Latency percentiles: one fetch round trip (request written → last message of it).
//! - `js-pull-consume`: the same consumer, driven like `consume()` in async-nats and
//!   nats.go: keep up to B (default 500) messages requested (`{"batch":..,
//!   "expires":30s,"idle_heartbeat":15s}`), ask for the difference whenever the
//!   outstanding count falls to half; `408`/`409` statuses release what their
//!   `Nats-Pending-Messages` header says. Every message acked.
//! - `js-push`: durable push consumer `PUSH` delivering to our subscription, explicit
//!   ack (every message acked), `flow_control` with `idle_heartbeat` 5s: every
//!   `100 FlowControl Request` is answered with an empty message to its reply subject
//!   (so is the `Nats-Consumer-Stalled` subject of a heartbeat).
//! - `js-ordered`: what clients create for an ordered consumer: ephemeral push consumer,
//!   `ack_policy none`, `max_deliver 1`, `flow_control`, `idle_heartbeat` 5s,
//!   `mem_storage`, `deliver_policy all`, `replay_policy instant`, one replica;
//!   flow control answered, no acks; consumer sequences must arrive without gaps.
//!
//! Timing starts with the first pull request (pull; the consumer is created before) or
//! with the consumer-create request (push: delivery starts on creation; the create
//! round trip is also shown on its own) and ends with the N-th distinct message.
//! Checks: every stream sequence 1..=N arrives exactly once (from the `$JS.ACK` reply
//! subject, v1 or v2 form; redeliveries are counted apart), and afterwards
//! `CONSUMER.INFO` (polled up to 5 s, acks are processed asynchronously) must show
//! `num_pending 0` and, with acks, `num_ack_pending 0` and `ack_floor.stream_seq N`,
//! without, `delivered.stream_seq N`. Every wait has a limit: 10 s without any frame,
//! 10 s per API request, `--timeout` for the whole run; a server without consumers fails
//! the run with one `FAILED: consumer create ...` line.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use tokio::sync::Notify;

use super::js::{self, json_u64, Acks, Latency, Reader, Storage, STREAM};
use super::{
    cpu, median, new_histogram, placed, si, us, AsyncWriteExt, CpuMeter, CpuUse, Duration, Frame,
    Instant, Opts, RawConn, RunResult, ServerKind, ShardProbe,
};
use jetcore_benches::{next_frame, put_pub};

/// Messages preloaded and consumed per run, default and `--long`.
pub const DEFAULT_COUNT: u64 = 100_000;
pub const LONG_COUNT: u64 = 1_000_000;
/// How long the consumer may hear nothing at all before the run fails.
const SILENCE: Duration = Duration::from_secs(10);
/// How long the consumer state may take to reflect the last acks.
const INFO_WAIT: Duration = Duration::from_secs(5);
/// `idle_heartbeat` of the push consumers (what nats.go uses for ordered consumers).
const PUSH_HEARTBEAT: Duration = Duration::from_secs(5);

/// How the consumer is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    PullFetch,
    PullConsume,
    Push,
    Ordered,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::PullFetch,
        Scenario::PullConsume,
        Scenario::Push,
        Scenario::Ordered,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::PullFetch => "js-pull-fetch",
            Scenario::PullConsume => "js-pull-consume",
            Scenario::Push => "js-push",
            Scenario::Ordered => "js-ordered",
        }
    }

    fn short(self) -> &'static str {
        &self.name()[3..]
    }

    fn acks(self) -> bool {
        self != Scenario::Ordered
    }

    fn pull(self) -> bool {
        matches!(self, Scenario::PullFetch | Scenario::PullConsume)
    }

    /// The consumer's name and its config JSON.
    fn consumer(self, deliver: &str) -> (&'static str, String) {
        let hb = PUSH_HEARTBEAT.as_nanos();
        match self {
            Scenario::PullFetch | Scenario::PullConsume => (
                "PULL",
                r#"{"durable_name":"PULL","name":"PULL","deliver_policy":"all","ack_policy":"explicit","replay_policy":"instant"}"#
                    .to_string(),
            ),
            Scenario::Push => (
                "PUSH",
                format!(
                    r#"{{"durable_name":"PUSH","name":"PUSH","deliver_subject":"{deliver}","deliver_policy":"all","ack_policy":"explicit","replay_policy":"instant","flow_control":true,"idle_heartbeat":{hb}}}"#
                ),
            ),
            Scenario::Ordered => (
                "ORDERED",
                format!(
                    r#"{{"name":"ORDERED","deliver_subject":"{deliver}","deliver_policy":"all","ack_policy":"none","max_deliver":1,"replay_policy":"instant","flow_control":true,"idle_heartbeat":{hb},"mem_storage":true,"num_replicas":1}}"#
                ),
            ),
        }
    }
}

/// The consumer options.
#[derive(Clone, Debug)]
pub struct ConsumeOpts {
    pub scenarios: Vec<Scenario>,
    /// `--batch` (messages per pull request; `None`: 100 fetch, 500 consume).
    pub batch: Option<usize>,
    /// `--expires` of the pull requests (`None`: 5 s fetch, 30 s consume).
    pub expires: Option<Duration>,
}

impl Default for ConsumeOpts {
    fn default() -> ConsumeOpts {
        ConsumeOpts {
            scenarios: Scenario::ALL.to_vec(),
            batch: None,
            expires: None,
        }
    }
}

impl ConsumeOpts {
    fn batch(&self, s: Scenario) -> u64 {
        let default = if s == Scenario::PullFetch { 100 } else { 500 };
        self.batch.unwrap_or(default).max(1) as u64
    }

    fn expires(&self, s: Scenario) -> Duration {
        let default = if s == Scenario::PullFetch { 5 } else { 30 };
        self.expires.unwrap_or(Duration::from_secs(default))
    }
}

/// `js-consume` / `all` (every scenario), or a list of `pull-fetch`, `pull-consume`,
/// `push`, `ordered` (with or without the `js-` prefix; `fetch`, `consume` too).
pub fn parse_scenarios(v: &str) -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    for s in v.split(',') {
        match s.strip_prefix("js-").unwrap_or(s) {
            "consume-all" | "all" => out.extend(Scenario::ALL),
            "pull-fetch" | "fetch" => out.push(Scenario::PullFetch),
            "pull-consume" | "consume" => out.push(Scenario::PullConsume),
            "push" => out.push(Scenario::Push),
            "ordered" => out.push(Scenario::Ordered),
            _ => {
                return Err(format!(
                    "--scenario {s:?}: pull-fetch, pull-consume, push, ordered or all"
                ))
            }
        }
    }
    Ok(out)
}

/// One combination of scenario, storage and payload size.
#[derive(Clone, Copy, Debug)]
pub struct ConsumeCase {
    pub scenario: Scenario,
    pub storage: Storage,
    pub size: usize,
}

impl fmt::Display for ConsumeCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} B",
            self.scenario.name(),
            self.storage.json(),
            self.size
        )
    }
}

/// Every combination asked for, scenario first, then storage, then size.
pub fn cases(o: &Opts) -> Vec<ConsumeCase> {
    let mut out = Vec::new();
    for &scenario in &o.consume.scenarios {
        for &storage in &o.js.storages {
            for &size in &o.sizes {
                out.push(ConsumeCase {
                    scenario,
                    storage,
                    size,
                });
            }
        }
    }
    out
}

/// The setup line printed first.
pub fn describe(o: &Opts) -> String {
    let c = &o.consume;
    let list = |v: Vec<String>| v.join(",");
    let pulls: Vec<String> = [Scenario::PullFetch, Scenario::PullConsume]
        .into_iter()
        .filter(|s| c.scenarios.contains(s))
        .map(|s| {
            format!(
                "{} batch {} expires {:?}",
                s.short(),
                c.batch(s),
                c.expires(s)
            )
        })
        .collect();
    format!(
        "js-consume: scenarios {}, storage {}, sizes {} B, {} messages preloaded per run \
         (PubAck window {}){}{}\nstore dirs under {}; jetcore: {}; Go: {}",
        list(c.scenarios.iter().map(|s| s.short().to_string()).collect()),
        list(o.js.storages.iter().map(|s| s.json().to_string()).collect()),
        list(o.sizes.iter().map(|s| s.to_string()).collect()),
        o.count.unwrap_or(DEFAULT_COUNT),
        o.js.window,
        if pulls.is_empty() { "" } else { "; " },
        pulls.join(", "),
        js::store_parent(&o.js).display(),
        o.js.jetcore_config
            .as_ref()
            .map_or("default config".to_string(), |c| format!("-c {c}")),
        o.js.go_config
            .as_ref()
            .map_or("default config".to_string(), |c| format!("-c {c}")),
    )
}

/// What one consumer run measured.
#[derive(Clone, Debug)]
pub struct ConsumeResult {
    scenario: Scenario,
    size: usize,
    /// Messages preloaded (= expected).
    n: u64,
    /// Stream messages delivered (duplicates included).
    received: u64,
    /// Sequences 1..=n never delivered.
    lost: u64,
    /// Deliveries of an already seen sequence.
    dups: u64,
    /// Deliveries with a delivery count above 1.
    redelivered: u64,
    /// Sequences outside 1..=n, or unreadable `$JS.ACK` subjects.
    bad: u64,
    /// Ordered: consumer sequences that did not follow the previous one.
    gaps: u64,
    /// Consumed msgs/s (first request or consumer creation → N-th message).
    rate: f64,
    /// Fetch round trips.
    lat: Option<Latency>,
    /// Pull requests sent.
    requests: u64,
    /// Flow-control requests answered.
    fc: u64,
    /// Idle heartbeats seen.
    heartbeats: u64,
    /// Other status messages: (status line, count).
    statuses: Vec<(String, u64)>,
    /// Consumer-create round trip (push: inside the timed part).
    create: Option<Duration>,
    /// Preload msgs/s (not part of the result).
    preload_rate: f64,
    pub cpu: CpuUse,
    placement: Option<String>,
    problem: Option<String>,
}

impl ConsumeResult {
    /// Figures for the machine-readable result line: the rate, and the fetch round
    /// trip percentiles (µs) where there is one.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let mut m = vec![("msgs_per_sec", self.rate)];
        if let Some(l) = self.lat {
            m.extend(crate::latency_metrics(&l));
        }
        m
    }

    pub fn ok(&self) -> bool {
        self.problem.is_none()
            && self.lost == 0
            && self.dups == 0
            && self.bad == 0
            && (self.scenario != Scenario::Ordered || self.gaps == 0)
    }

    pub fn line(&self) -> String {
        let lat = self.lat.map_or(String::new(), |l| {
            format!(
                "fetch p50 {:>7} p90 {:>7} p99 {:>7} p99.9 {:>7} max {:>7}  ",
                us(l.p50),
                us(l.p90),
                us(l.p99),
                us(l.p999),
                us(l.max)
            )
        });
        let mut extra = Vec::new();
        if self.scenario.pull() {
            extra.push(format!("{} pull requests", self.requests));
        } else {
            extra.push(format!("fc {} hb {}", self.fc, self.heartbeats));
        }
        if self.scenario == Scenario::Ordered {
            extra.push(format!("gaps {}", self.gaps));
        }
        for (s, n) in &self.statuses {
            extra.push(format!("{n}x {s:?}"));
        }
        if let Some(c) = self.create {
            extra.push(format!("create {}", us(c.as_nanos() as u64)));
        }
        extra.push(format!("preload {} msgs/s", si(self.preload_rate)));
        format!(
            "{lat}consumed {:>7} msgs/s {:>6.1} MB/s  ({} msgs, received {}, lost {}, dup {}, redelivered {}, bad {}; {})  cpu: {}{}{}",
            si(self.rate),
            self.rate * self.size as f64 / 1e6,
            self.n,
            self.received,
            self.lost,
            self.dups,
            self.redelivered,
            self.bad,
            extra.join(", "),
            cpu(&self.cpu),
            placed(&self.placement),
            self.problem
                .as_ref()
                .map_or(String::new(), |p| format!("  PROBLEM: {p}"))
        )
    }
}

/// The subjects of one run.
struct Names {
    /// API replies on the consumer connection: `<api>.<token>`.
    api: String,
    /// Pull requests' reply subjects: `<pull>.<request number>`.
    pull: String,
    /// Push consumers' deliver subject.
    deliver: String,
}

/// One consumer run against the server on `port`.
pub async fn run(
    o: &Opts,
    case: ConsumeCase,
    port: u16,
    pid: Option<u32>,
) -> Result<ConsumeResult, String> {
    let n = o.count.unwrap_or(DEFAULT_COUNT);
    let hard = Instant::now() + o.timeout;
    let base = format!("_INBOX.jsc.{}", std::process::id());
    // Control connection: stream, preload, consumer info.
    let ctl_api = format!("{base}.c");
    let pub_inbox = format!("{base}.p");
    let ctl_setup = format!("SUB {ctl_api}.* 1\r\nSUB {pub_inbox}.* 2\r\n");
    let mut ctl = RawConn::connect(port, ctl_setup.as_bytes(), 64 * 1024).await?;
    js::create_stream(&mut ctl, &ctl_api, case.storage).await?;
    let preload_rate = preload(o, case, n, &mut ctl, &pub_inbox, hard).await?;

    let names = Names {
        api: format!("{base}.k"),
        pull: format!("{base}.n"),
        deliver: format!("{base}.d"),
    };
    let setup = format!(
        "SUB {}.* 1\r\nSUB {}.* 2\r\nSUB {} 3\r\n",
        names.api, names.pull, names.deliver
    );
    let probe = ShardProbe::new(pid);
    let (mut conn, placement) =
        js::connect_near_stream(o, port, probe.as_ref(), &setup, "consumer").await?;
    let (consumer, config) = case.scenario.consumer(&names.deliver);
    let create_subject = format!("$JS.API.CONSUMER.CREATE.{STREAM}.{consumer}");
    let create_body = format!("{{\"stream_name\":\"{STREAM}\",\"config\":{config}}}");
    let mut create_time = None;
    if case.scenario.pull() {
        let t = Instant::now();
        let reply = js::request(
            &mut conn,
            &create_subject,
            &names.api,
            "create",
            create_body.as_bytes(),
        )
        .await
        .map_err(|e| format!("consumer create: {e}"))?;
        check_created(&reply)?;
        create_time = Some(t.elapsed());
    }
    let shard_cpu = probe.as_ref().map(|p| (p.cpu(), Instant::now()));
    let mut r = consume(
        o,
        case,
        n,
        &mut conn,
        &names,
        (&create_subject, &create_body),
        pid,
        hard,
    )
    .await?;
    r.create = r.create.or(create_time);
    r.preload_rate = preload_rate;
    let per_shard = js::shard_cpu_since(probe.as_ref(), shard_cpu);
    r.placement = match (placement, per_shard) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    if r.problem.is_none() {
        // Everything we wrote (the last acks) has been read by the server.
        let flushed = async {
            conn.s
                .write_all(b"PING\r\n")
                .await
                .map_err(|e| e.to_string())?;
            conn.wait_pong().await
        };
        r.problem = match tokio::time::timeout(SILENCE, flushed).await {
            Ok(Ok(())) => check_consumer(&mut ctl, &ctl_api, consumer, case.scenario, n).await,
            Ok(Err(e)) => Some(format!("flush: {e}")),
            Err(_) => Some(format!("flush: no PONG within {SILENCE:?}")),
        };
    }
    Ok(r)
}

/// A consumer-create reply must be a ConsumerInfo.
fn check_created(reply: &[u8]) -> Result<(), String> {
    if memchr::memmem::find(reply, b"\"error\"").is_some()
        || memchr::memmem::find(reply, b"\"config\"").is_none()
    {
        return Err(format!(
            "consumer create failed: {}",
            String::from_utf8_lossy(&reply[..reply.len().min(300)])
        ));
    }
    Ok(())
}

/// The first `"key":<number>` after the first `"object":` in a JSON text.
fn json_u64_in(body: &[u8], object: &str, key: &str) -> Option<u64> {
    let at = memchr::memmem::find(body, format!("\"{object}\":").as_bytes())?;
    json_u64(&body[at..], key)
}

/// Poll `CONSUMER.INFO` until it shows everything consumed (and acknowledged); the
/// problem if it does not within [`INFO_WAIT`].
async fn check_consumer(
    ctl: &mut RawConn,
    api: &str,
    consumer: &str,
    scenario: Scenario,
    n: u64,
) -> Option<String> {
    let subject = format!("$JS.API.CONSUMER.INFO.{STREAM}.{consumer}");
    let until = Instant::now() + INFO_WAIT;
    loop {
        let info = match js::request(ctl, &subject, api, "info", b"").await {
            Ok(i) => i,
            Err(e) => return Some(format!("CONSUMER.INFO: {e}")),
        };
        let pending = json_u64(&info, "num_pending");
        let (ok, seen) = if scenario.acks() {
            let ack_pending = json_u64(&info, "num_ack_pending");
            let floor = json_u64_in(&info, "ack_floor", "stream_seq");
            (
                (pending, ack_pending, floor) == (Some(0), Some(0), Some(n)),
                format!(
                    "num_pending {pending:?} num_ack_pending {ack_pending:?} ack_floor.stream_seq {floor:?} \
                     (want 0, 0, {n})"
                ),
            )
        } else {
            let delivered = json_u64_in(&info, "delivered", "stream_seq");
            (
                (pending, delivered) == (Some(0), Some(n)),
                format!("num_pending {pending:?} delivered.stream_seq {delivered:?} (want 0, {n})"),
            )
        };
        if ok {
            return None;
        }
        if Instant::now() >= until {
            return Some(format!("CONSUMER.INFO after {INFO_WAIT:?}: {seen}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publish `n` messages with a window of outstanding PubAcks, all of which must be
/// successes with sequence = index + 1. Returns msgs/s.
async fn preload(
    o: &Opts,
    case: ConsumeCase,
    n: u64,
    ctl: &mut RawConn,
    inbox: &str,
    hard: Instant,
) -> Result<f64, String> {
    let subject = format!("bench.js.{}", std::process::id());
    let payload = vec![b'p'; case.size];
    let mut acks = Acks::default();
    let RawConn { s, buf, start, end } = ctl;
    let (rd, mut wr) = s.split();
    let mut rd = Reader {
        rd,
        buf,
        start,
        end,
    };
    let t = Instant::now();
    let part = js::pipelined(
        &mut rd,
        &mut wr,
        &mut acks,
        (subject.as_bytes(), inbox.as_bytes(), &payload),
        0,
        Some(n),
        hard,
        hard,
        o.js.window,
    )
    .await;
    if let Some(p) = part.problem {
        return Err(format!("preload: {p}"));
    }
    if part.ok != n || acks.errors > 0 || acks.bad_seq > 0 {
        return Err(format!(
            "preload: {} of {n} PubAcks ok, errors {}, bad seq {}{}",
            part.ok,
            acks.errors,
            acks.bad_seq,
            acks.first_error
                .map_or(String::new(), |e| format!(", first error: {e}"))
        ));
    }
    Ok(n as f64 / (part.last - t).as_secs_f64().max(1e-9))
}

/// The timed part: drive the consumer until all `n` messages arrived.
#[allow(clippy::too_many_arguments)]
async fn consume(
    o: &Opts,
    case: ConsumeCase,
    n: u64,
    conn: &mut RawConn,
    names: &Names,
    (create_subject, create_body): (&str, &str),
    pid: Option<u32>,
    hard: Instant,
) -> Result<ConsumeResult, String> {
    let RawConn { s, buf, start, end } = conn;
    let (rd, mut wr) = s.split();
    let mut rd = Reader {
        rd,
        buf,
        start,
        end,
    };
    // What the reader wants written (acks, pull requests, flow-control replies,
    // PONGs); the writer sends whatever accumulated in one write, concurrently with
    // reading, so that neither side can block the other.
    let out = RefCell::new(Vec::with_capacity(64 * 1024));
    let wake = Notify::new();
    let done = Cell::new(false);
    let scenario = case.scenario;
    let expires = o.consume.expires(scenario);
    let mut d = Driver {
        scenario,
        n,
        batch: o.consume.batch(scenario),
        expires_ns: expires.as_nanos(),
        // Like the clients: heartbeats at half the expiry, at most 30 s; none for a
        // fetch shorter than 10 s (nats.go).
        heartbeat_ns: if scenario == Scenario::PullConsume || expires >= Duration::from_secs(10) {
            (expires / 2).min(Duration::from_secs(30)).as_nanos()
        } else {
            0
        },
        next_subject: format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.PULL"),
        names,
        out: &out,
        t: Tally::new(n),
        requests: 0,
        pending: 0,
        fetch_from: Instant::now(),
        hist: new_histogram(),
        create_sent: None,
        created: None,
        last: None,
    };
    let meter = CpuMeter::start(pid);
    let t0 = meter.start;
    match scenario {
        Scenario::PullFetch => d.next_fetch(),
        Scenario::PullConsume => d.top_up(),
        Scenario::Push | Scenario::Ordered => {
            let reply = format!("{}.create", names.api);
            put_pub(
                &mut out.borrow_mut(),
                create_subject.as_bytes(),
                Some(reply.as_bytes()),
                create_body.as_bytes(),
            );
            d.create_sent = Some(Instant::now());
        }
    }
    let reader = async {
        let r = d.read_all(&mut rd, &wake, hard).await;
        done.set(true);
        wake.notify_one();
        r
    };
    let writer = async {
        let mut spare = Vec::with_capacity(64 * 1024);
        loop {
            {
                let mut b = out.borrow_mut();
                if b.is_empty() {
                    if done.get() {
                        break Ok(());
                    }
                } else {
                    std::mem::swap(&mut *b, &mut spare);
                }
            }
            if spare.is_empty() {
                wake.notified().await;
                continue;
            }
            match tokio::time::timeout_at(hard.into(), wr.write_all(&spare)).await {
                Ok(Ok(())) => spare.clear(),
                Ok(Err(e)) => break Err(format!("write: {e}")),
                Err(_) => break Err("write blocked until the hard time limit".to_string()),
            }
        }
    };
    let (read, write) = tokio::join!(reader, writer);
    let cpu = meter.stop();
    if !scenario.pull() && d.created.is_none() {
        // The consumer never came to be: a setup failure, not a result.
        return Err(match read {
            Err(e) if e.starts_with("consumer create failed") => e,
            Err(e) => format!("consumer create: no reply ({e})"),
            Ok(()) => "consumer create: no reply".to_string(),
        });
    }
    let problem = read.err().or(write.err());
    let t = &d.t;
    let last = d.last.unwrap_or_else(Instant::now);
    let h = &d.hist;
    Ok(ConsumeResult {
        scenario,
        size: case.size,
        n,
        received: t.received,
        lost: n - t.distinct,
        dups: t.dups,
        redelivered: t.redelivered,
        bad: t.bad,
        gaps: t.gaps,
        rate: t.distinct as f64 / (last - t0).as_secs_f64().max(1e-9),
        lat: (scenario == Scenario::PullFetch && !h.is_empty()).then(|| Latency {
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }),
        requests: d.requests,
        fc: t.fc,
        heartbeats: t.heartbeats,
        statuses: t.statuses.clone(),
        create: d.created,
        preload_rate: 0.0,
        cpu,
        placement: None,
        problem,
    })
}

/// What arrived.
struct Tally {
    /// Bit per stream sequence 1..=n.
    seen: Vec<u64>,
    received: u64,
    distinct: u64,
    dups: u64,
    redelivered: u64,
    bad: u64,
    gaps: u64,
    last_dseq: u64,
    fc: u64,
    heartbeats: u64,
    statuses: Vec<(String, u64)>,
}

impl Tally {
    fn new(n: u64) -> Tally {
        Tally {
            seen: vec![0; (n as usize + 1).div_ceil(64)],
            received: 0,
            distinct: 0,
            dups: 0,
            redelivered: 0,
            bad: 0,
            gaps: 0,
            last_dseq: 0,
            fc: 0,
            heartbeats: 0,
            statuses: Vec::new(),
        }
    }

    fn message(&mut self, n: u64, (dc, sseq, dseq): (u64, u64, u64)) {
        self.received += 1;
        if dc > 1 {
            self.redelivered += 1;
        }
        if dseq != self.last_dseq + 1 {
            self.gaps += 1;
        }
        self.last_dseq = dseq;
        if sseq == 0 || sseq > n {
            self.bad += 1;
            return;
        }
        let (w, b) = ((sseq / 64) as usize, sseq % 64);
        if self.seen[w] & (1 << b) != 0 {
            self.dups += 1;
        } else {
            self.seen[w] |= 1 << b;
            self.distinct += 1;
        }
    }

    fn status(&mut self, line: &str) {
        match self.statuses.iter_mut().find(|(s, _)| s == line) {
            Some((_, c)) => *c += 1,
            None => self.statuses.push((line.to_string(), 1)),
        }
    }
}

/// A decimal number.
fn num(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    b.iter().try_fold(0u64, |v, &c| {
        c.is_ascii_digit().then(|| v * 10 + u64::from(c - b'0'))
    })
}

/// (delivery count, stream sequence, consumer sequence) from a `$JS.ACK` subject:
/// v1 `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>` or v2
/// `$JS.ACK.<domain>.<acc>.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>[...]`.
fn ack_info(reply: &[u8]) -> Option<(u64, u64, u64)> {
    let mut t = [&[][..]; 12];
    let mut k = 0;
    for tok in reply.split(|&b| b == b'.') {
        if k < t.len() {
            t[k] = tok;
        }
        k += 1;
    }
    let at = match k {
        9 => 4,
        11.. => 6,
        _ => return None,
    };
    Some((num(t[at])?, num(t[at + 1])?, num(t[at + 2])?))
}

/// The value of header `name` in a header block.
fn header<'a>(block: &'a [u8], name: &str) -> Option<&'a [u8]> {
    block.split(|&b| b == b'\n').skip(1).find_map(|l| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let colon = memchr::memchr(b':', l)?;
        l[..colon]
            .eq_ignore_ascii_case(name.as_bytes())
            .then(|| l[colon + 1..].trim_ascii())
    })
}

/// The consuming side's state and per-scenario behaviour.
struct Driver<'a> {
    scenario: Scenario,
    n: u64,
    batch: u64,
    expires_ns: u128,
    heartbeat_ns: u128,
    next_subject: String,
    names: &'a Names,
    out: &'a RefCell<Vec<u8>>,
    t: Tally,
    /// Pull requests sent.
    requests: u64,
    /// Messages requested and neither delivered nor released by a status.
    pending: u64,
    /// When the current fetch was sent.
    fetch_from: Instant,
    hist: Histogram<u64>,
    create_sent: Option<Instant>,
    created: Option<Duration>,
    /// When the n-th distinct message arrived.
    last: Option<Instant>,
}

impl Driver<'_> {
    /// Send a pull request for `batch` messages.
    fn pull(&mut self, batch: u64) {
        let mut body = format!("{{\"batch\":{batch},\"expires\":{}", self.expires_ns);
        if self.heartbeat_ns > 0 {
            let _ = write!(body, ",\"idle_heartbeat\":{}", self.heartbeat_ns);
        }
        body.push('}');
        let reply = format!("{}.{}", self.names.pull, self.requests);
        put_pub(
            &mut self.out.borrow_mut(),
            self.next_subject.as_bytes(),
            Some(reply.as_bytes()),
            body.as_bytes(),
        );
        self.requests += 1;
        self.pending += batch;
    }

    /// Fetch: the next batch (no more than what is left).
    fn next_fetch(&mut self) {
        let left = self.n - self.t.distinct;
        if left > 0 {
            self.fetch_from = Instant::now();
            self.pull(left.min(self.batch));
        }
    }

    /// Consume: ask for more once half of the outstanding messages arrived.
    fn top_up(&mut self) {
        if self.pending <= self.batch / 2 {
            self.pull(self.batch - self.pending);
        }
    }

    /// Read and handle frames until every message arrived, or fail.
    async fn read_all(
        &mut self,
        rd: &mut Reader<'_>,
        wake: &Notify,
        hard: Instant,
    ) -> Result<(), String> {
        loop {
            loop {
                let (f, len) = match next_frame(&rd.buf[*rd.start..*rd.end]) {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => return Err(e.0),
                };
                match f {
                    Frame::Msg { args, body } => self.on_msg(args, body)?,
                    Frame::Ping => self.out.borrow_mut().extend_from_slice(b"PONG\r\n"),
                    Frame::Err(e) => return Err(format!("-ERR{}", String::from_utf8_lossy(e))),
                    Frame::Pong | Frame::Other => {}
                }
                *rd.start += len;
            }
            if !self.out.borrow().is_empty() {
                wake.notify_one();
            }
            if self.t.distinct >= self.n {
                return Ok(());
            }
            let now = Instant::now();
            if now >= hard {
                return Err(format!(
                    "hard time limit reached with {} of {} messages",
                    self.t.distinct, self.n
                ));
            }
            let wait = SILENCE.min(hard - now);
            match tokio::time::timeout(wait, rd.fill()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(format!(
                        "nothing received for {wait:?}, {} of {} messages",
                        self.t.distinct, self.n
                    ))
                }
            }
        }
    }

    fn on_msg(&mut self, args: &[u8], body: &[u8]) -> Result<(), String> {
        // MSG <subject> <sid> [reply] <size>; HMSG <subject> <sid> [reply] <hdr> <size>.
        // The stream's messages carry no headers (we published none), so a body that
        // starts with a header block is a status message, or a stream message with
        // headers added by the server: its reply subject tells them apart.
        let mut tok = [&[][..]; 5];
        let mut k = 0;
        for t in args.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
            if k < tok.len() {
                tok[k] = t;
            }
            k += 1;
        }
        let headers = body.starts_with(b"NATS/1.0");
        let reply = match (headers, k) {
            (false, 4) | (true, 5) => Some(tok[2]),
            _ => None,
        };
        if let Some(r) = reply.filter(|r| r.starts_with(b"$JS.ACK.")) {
            return self.on_stream_msg(r);
        }
        let subject = tok[0];
        if subject.starts_with(self.names.api.as_bytes()) {
            return self.on_api_reply(body);
        }
        if headers {
            return self.on_status(subject, reply, body);
        }
        Err(format!(
            "unexpected message: {}",
            String::from_utf8_lossy(args)
        ))
    }

    fn on_stream_msg(&mut self, reply: &[u8]) -> Result<(), String> {
        let Some(info) = ack_info(reply) else {
            self.t.bad += 1;
            return Err(format!(
                "unreadable ack subject {:?}",
                String::from_utf8_lossy(reply)
            ));
        };
        self.t.message(self.n, info);
        if self.t.distinct == self.n && self.last.is_none() {
            self.last = Some(Instant::now());
        }
        if self.scenario.acks() {
            put_pub(&mut self.out.borrow_mut(), reply, None, b"+ACK");
        }
        match self.scenario {
            Scenario::PullFetch => {
                self.pending = self.pending.saturating_sub(1);
                if self.pending == 0 {
                    let rtt = self.fetch_from.elapsed().as_nanos() as u64;
                    self.hist.saturating_record(rtt.max(1));
                    self.next_fetch();
                }
            }
            Scenario::PullConsume => {
                self.pending = self.pending.saturating_sub(1);
                self.top_up();
            }
            Scenario::Push | Scenario::Ordered => {}
        }
        Ok(())
    }

    fn on_api_reply(&mut self, body: &[u8]) -> Result<(), String> {
        let Some(sent) = self.create_sent else {
            return Err("unexpected API reply".into());
        };
        if body.starts_with(b"NATS/1.0") {
            let line = body.split(|&b| b == b'\r').next().unwrap_or(body);
            return Err(format!(
                "consumer create failed: status {}",
                String::from_utf8_lossy(line)
            ));
        }
        check_created(body)?;
        self.created.get_or_insert(sent.elapsed());
        Ok(())
    }

    fn on_status(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        body: &[u8],
    ) -> Result<(), String> {
        let line = body.split(|&b| b == b'\r').next().unwrap_or(body);
        let line = String::from_utf8_lossy(line).into_owned();
        let code = line.get(9..12).unwrap_or("");
        if code == "100" {
            if line.contains("FlowControl") {
                if let Some(r) = reply {
                    put_pub(&mut self.out.borrow_mut(), r, None, b"");
                    self.t.fc += 1;
                }
            } else {
                self.t.heartbeats += 1;
                if let Some(r) = header(body, "Nats-Consumer-Stalled") {
                    put_pub(&mut self.out.borrow_mut(), r, None, b"");
                    self.t.fc += 1;
                }
            }
            return Ok(());
        }
        self.t.status(&line);
        let pull_reply = subject.starts_with(self.names.pull.as_bytes());
        if !self.scenario.pull() || !pull_reply || !matches!(code, "404" | "408" | "409") {
            // 400 (bad request), 503 (no responders: no consumer) and the like.
            return Err(format!(
                "status {line:?} on {}",
                String::from_utf8_lossy(subject)
            ));
        }
        // A pull request ended before it was filled.
        match self.scenario {
            Scenario::PullFetch => {
                let current = format!("{}.{}", self.names.pull, self.requests - 1);
                if subject == current.as_bytes() {
                    self.pending = 0;
                    self.next_fetch();
                }
            }
            _ => {
                let left = header(body, "Nats-Pending-Messages").and_then(num);
                self.pending = match left {
                    Some(k) => self.pending.saturating_sub(k),
                    None => 0,
                };
                self.top_up();
            }
        }
        Ok(())
    }
}

fn consume_result(r: &RunResult) -> Option<&ConsumeResult> {
    match r {
        RunResult::Consume(c) => Some(c),
        _ => None,
    }
}

/// Median of `f` over the successful runs.
fn stat(rs: &[RunResult], f: impl Fn(&ConsumeResult) -> f64) -> f64 {
    median(
        rs.iter()
            .filter_map(consume_result)
            .filter(|r| r.ok())
            .map(f)
            .collect(),
    )
}

/// Print the medians of one combination; returns its rows for [`print_table`].
pub fn print_summary(
    o: &Opts,
    case: ConsumeCase,
    results: &[(ServerKind, Vec<RunResult>)],
) -> Vec<String> {
    let ok = |rs: &[RunResult]| {
        rs.iter()
            .filter_map(consume_result)
            .filter(|r| r.ok())
            .count()
    };
    let go = results
        .iter()
        .find(|(k, rs)| *k == ServerKind::Go && ok(rs) > 0)
        .map(|(_, rs)| rs);
    let fetch = case.scenario == Scenario::PullFetch;
    println!(
        "\n{case}: medians over the successful runs of {} round(s){}:",
        o.rounds,
        if go.is_some() && results.len() > 1 {
            "; ratio = jetcore / Go"
        } else {
            ""
        }
    );
    println!(
        "  {:<11} {:>7} {:>11} {:>8} {:>9} {:>9} {:>8} {:>8} {:>6} {:>10} {:>10}",
        "server",
        "ok/runs",
        "msgs/s",
        "MB/s",
        "fetch p50",
        "fetch p99",
        "srv cpu",
        "gen cpu",
        "other",
        "msgs ratio",
        "p50 ratio"
    );
    let p50 = |r: &ConsumeResult| r.lat.map_or(f64::NAN, |l| l.p50 as f64);
    let p99 = |r: &ConsumeResult| r.lat.map_or(f64::NAN, |l| l.p99 as f64);
    let mut rows = Vec::new();
    for (k, rs) in results {
        let rate = stat(rs, |r| r.rate);
        let n = ok(rs);
        let (rate_ratio, p50_ratio) = match (go, k) {
            (Some(g), ServerKind::Jetcore { .. }) if n > 0 => (
                format!("{:.2}x", rate / stat(g, |r| r.rate)),
                if fetch {
                    format!("{:.2}x", stat(rs, p50) / stat(g, p50))
                } else {
                    String::new()
                },
            ),
            _ => (String::new(), String::new()),
        };
        let lat = |v: f64| {
            if fetch && v.is_finite() {
                us(v as u64)
            } else {
                "-".to_string()
            }
        };
        let mbps = rate * case.size as f64 / 1e6;
        println!(
            "  {:<11} {:>7} {:>11} {:>8.1} {:>9} {:>9} {:>8.2} {:>8.2} {:>6.2} {:>10} {:>10}",
            k.to_string(),
            format!("{n}/{}", rs.len()),
            si(rate),
            mbps,
            lat(stat(rs, p50)),
            lat(stat(rs, p99)),
            stat(rs, |r| r.cpu.server.unwrap_or(f64::NAN)),
            stat(rs, |r| r.cpu.gen),
            stat(rs, |r| r.cpu.other.unwrap_or(f64::NAN)),
            rate_ratio,
            p50_ratio
        );
        rows.push(format!(
            "| {} | {} | {} | {k} | {n}/{} | {} | {mbps:.1} | {} | {} | {rate_ratio} | {p50_ratio} |",
            case.scenario.short(),
            case.storage.json(),
            case.size,
            rs.len(),
            si(rate),
            lat(stat(rs, p50)),
            lat(stat(rs, p99)),
        ));
    }
    rows
}

/// All combinations in one markdown table.
pub fn print_table(o: &Opts, rows: &[String]) {
    println!(
        "\nall combinations ({} messages per run; medians of {} round(s); ratios jetcore / Go):",
        o.count.unwrap_or(DEFAULT_COUNT),
        o.rounds
    );
    println!("| scenario | storage | size | server | ok/runs | msgs/s | MB/s | fetch p50 | fetch p99 | msgs/s ratio | p50 ratio |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
