//! JetStream publish scenarios of `jetcore-loadgen` (`js-pub`, `js-pub-sync`,
//! `js-pub-async`).
//!
//! Every run starts the server with `-js -sd <fresh dir>` (plus `-c FILE` when
//! `--jetcore-config` / `--go-config` is given), creates the stream `BENCH` (subjects
//! `bench.>`, storage file or memory, one replica) with `$JS.API.STREAM.CREATE.BENCH`
//! and publishes raw `PUB bench.js.<tag> <inbox>.<i>` frames on one connection. The
//! reply subject carries the publish index `i`, so every PubAck is matched to its
//! publish and checked: no error, `seq == i + 1` (the stream is fresh and there is one
//! publisher, so the sequences must follow the publish order without gaps), no
//! duplicate, none missing. After the run `STREAM.INFO` must report exactly the
//! acknowledged messages (`messages == last_seq ==` acks, `first_seq == 1`).
//!
//! - sync: one publish in flight; each PubAck's latency goes into an HDR histogram;
//!   msgs/s = acknowledged messages over the measured time.
//! - async: a window of `--window` (256) unacknowledged publishes; the writer sends as
//!   many as the window allows in one write, the reader frees window slots as PubAcks
//!   arrive. msgs/s = acknowledged messages until the last PubAck.
//!
//! Both first publish `--warmup` messages the same way (not measured); only
//! acknowledged messages are counted.

use std::cell::Cell;
use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;

use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::{Notify, Semaphore};

use super::{
    cpu, median, new_histogram, placed, shard_name, si, us, AsyncReadExt, AsyncWriteExt, CpuMeter,
    CpuUse, Duration, Frame, Instant, Opts, Placement, RawConn, RunResult, ServerKind, ShardProbe,
};
use jetcore_benches::next_frame;

/// The stream every run creates.
pub(crate) const STREAM: &str = "BENCH";
/// Publishes per write at most (async).
const MAX_BATCH: usize = 64;
/// How long the reader waits for missing PubAcks once everything is sent.
const ACK_GRACE: Duration = Duration::from_secs(5);

/// Sync or async publishing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// One publish in flight.
    Sync,
    /// A window of outstanding PubAcks.
    Async,
}

/// Stream storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    File,
    Memory,
}

impl Storage {
    pub(crate) fn json(self) -> &'static str {
        match self {
            Storage::File => "file",
            Storage::Memory => "memory",
        }
    }
}

/// The js-pub options.
#[derive(Clone, Debug)]
pub struct JsOpts {
    pub scenarios: Vec<Scenario>,
    pub storages: Vec<Storage>,
    pub window: usize,
    pub store_parent: Option<PathBuf>,
    pub jetcore_config: Option<String>,
    pub go_config: Option<String>,
    pub long: bool,
}

impl Default for JsOpts {
    fn default() -> JsOpts {
        JsOpts {
            scenarios: vec![Scenario::Sync, Scenario::Async],
            storages: vec![Storage::File],
            window: 256,
            store_parent: None,
            jetcore_config: None,
            go_config: None,
            long: false,
        }
    }
}

/// `sync`, `async`, `sync,async` (also `js-pub-sync`, `js-pub-async`).
pub fn parse_scenarios(v: &str) -> Result<Vec<Scenario>, String> {
    v.split(',')
        .map(|s| match s {
            "sync" | "js-pub-sync" => Ok(Scenario::Sync),
            "async" | "js-pub-async" => Ok(Scenario::Async),
            other => Err(format!("--scenario {other:?}: sync or async")),
        })
        .collect()
}

/// `file`, `memory`, `file,memory`.
pub fn parse_storages(v: &str) -> Result<Vec<Storage>, String> {
    v.split(',')
        .map(|s| match s {
            "file" => Ok(Storage::File),
            "memory" | "mem" => Ok(Storage::Memory),
            other => Err(format!("--storage {other:?}: file or memory")),
        })
        .collect()
}

/// One combination of scenario, storage and payload size.
#[derive(Clone, Copy, Debug)]
pub struct JsCase {
    pub scenario: Scenario,
    pub storage: Storage,
    pub size: usize,
}

impl fmt::Display for JsCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.scenario {
            Scenario::Sync => "js-pub-sync",
            Scenario::Async => "js-pub-async",
        };
        write!(f, "{s} {} {} B", self.storage.json(), self.size)
    }
}

/// Every combination asked for, scenario first, then storage, then size.
pub fn cases(o: &Opts) -> Vec<JsCase> {
    let mut out = Vec::new();
    for &scenario in &o.js.scenarios {
        for &storage in &o.js.storages {
            for &size in &o.sizes {
                out.push(JsCase {
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
    let list = |v: Vec<String>| v.join(",");
    format!(
        "js-pub: scenarios {}, storage {}, sizes {} B, async window {}, {}, {} warm-up messages\n\
         store dirs under {}; jetcore: {}; Go: {}",
        list(
            o.js.scenarios
                .iter()
                .map(|s| format!("{s:?}").to_lowercase())
                .collect()
        ),
        list(o.js.storages.iter().map(|s| s.json().to_string()).collect()),
        list(o.sizes.iter().map(|s| s.to_string()).collect()),
        o.js.window,
        super::length(o),
        o.warmup,
        store_parent(&o.js).display(),
        o.js.jetcore_config
            .as_ref()
            .map_or("default config (sync always)".to_string(), |c| format!(
                "-c {c}"
            )),
        o.js.go_config.as_ref().map_or(
            "default config (sync every 2 min)".to_string(),
            |c| format!("-c {c}")
        ),
    )
}

pub(crate) fn store_parent(j: &JsOpts) -> PathBuf {
    j.store_parent.clone().unwrap_or_else(std::env::temp_dir)
}

/// A run's store directory; removed on drop (after the server is gone).
pub struct StoreDir {
    path: PathBuf,
}

impl StoreDir {
    /// A new empty directory under `--store-dir` (or the temp dir).
    pub fn create(j: &JsOpts, target: ServerKind) -> Result<StoreDir, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let kind = match target {
            ServerKind::Jetcore { cores } => format!("jetcore{cores}"),
            ServerKind::Go => "go".to_string(),
        };
        let path =
            store_parent(j).join(format!("jetcore-loadgen-{}-{n}-{kind}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(StoreDir { path })
    }

    /// The arguments that turn JetStream on with this directory (and the config file
    /// for this kind of server, if any).
    pub fn server_args(&self, j: &JsOpts, target: ServerKind) -> Vec<String> {
        let mut a = Vec::new();
        let config = match target {
            ServerKind::Jetcore { .. } => &j.jetcore_config,
            ServerKind::Go => &j.go_config,
        };
        if let Some(c) = config {
            a.push("-c".to_string());
            a.push(c.clone());
        }
        a.push("-js".to_string());
        a.push("-sd".to_string());
        a.push(self.path.display().to_string());
        a
    }
}

impl Drop for StoreDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// PubAck latency percentiles (sync), nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// What one js-pub run measured.
#[derive(Clone, Debug)]
pub struct JsResult {
    size: usize,
    /// Publishes sent in the measured part.
    sent: u64,
    /// Successful PubAcks in the measured part.
    acked: u64,
    /// Error PubAcks (all parts).
    errors: u64,
    first_error: Option<String>,
    /// Publishes never acknowledged (all parts).
    missing: u64,
    /// PubAcks whose sequence was not publish index + 1, or repeated.
    bad_seq: u64,
    /// Acknowledged msgs/s.
    rate: f64,
    lat: Option<Latency>,
    pub cpu: CpuUse,
    placement: Option<String>,
    problem: Option<String>,
}

impl JsResult {
    /// Figures for the machine-readable result line: the rate, and latency
    /// percentiles (µs) when one publish was in flight at a time.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let mut m = vec![("msgs_per_sec", self.rate)];
        if let Some(l) = self.lat {
            m.extend(crate::latency_metrics(&l));
        }
        m
    }

    pub fn ok(&self) -> bool {
        self.problem.is_none() && self.errors == 0 && self.missing == 0 && self.bad_seq == 0
    }

    pub fn line(&self) -> String {
        let lat = self.lat.map_or(String::new(), |l| {
            format!(
                "p50 {:>7} p90 {:>7} p99 {:>7} p99.9 {:>7} max {:>7}  ",
                us(l.p50),
                us(l.p90),
                us(l.p99),
                us(l.p999),
                us(l.max)
            )
        });
        format!(
            "{lat}acked {:>7} msgs/s {:>6.1} MB/s  ({} sent, {} acked, errors {}, missing {}, bad seq {})  cpu: {}{}{}{}",
            si(self.rate),
            self.rate * self.size as f64 / 1e6,
            self.sent,
            self.acked,
            self.errors,
            self.missing,
            self.bad_seq,
            cpu(&self.cpu),
            placed(&self.placement),
            self.first_error
                .as_ref()
                .map_or(String::new(), |e| format!("  FIRST ERROR: {e}")),
            self.problem
                .as_ref()
                .map_or(String::new(), |p| format!("  PROBLEM: {p}"))
        )
    }
}

/// The PubAck bookkeeping shared by both scenarios.
#[derive(Default)]
pub(crate) struct Acks {
    /// Successful PubAcks, all parts.
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) bad_seq: u64,
    /// Which publish indexes were answered.
    pub(crate) seen: Vec<bool>,
}

impl Acks {
    /// A reply on `<inbox>.<i>`: check it, return whether it was the success of a
    /// publish.
    fn on_reply(&mut self, args: &[u8], body: &[u8]) -> bool {
        let subject = args.split(|&b| b == b' ').next().unwrap_or(b"");
        let idx = subject
            .rsplit(|&b| b == b'.')
            .next()
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.parse::<u64>().ok());
        let Some(idx) = idx else {
            self.error(format!(
                "reply on unexpected subject {:?}",
                String::from_utf8_lossy(subject)
            ));
            return false;
        };
        let i = idx as usize;
        if self.seen.len() <= i {
            self.seen.resize(i + 1, false);
        }
        if std::mem::replace(&mut self.seen[i], true) {
            self.bad_seq += 1;
        }
        if body.starts_with(b"NATS/1.0") {
            // A status message (503 no responders: no stream on the subject).
            let line = body.split(|&b| b == b'\r').next().unwrap_or(body);
            self.error(format!("status {}", String::from_utf8_lossy(line)));
            return false;
        }
        if memchr::memmem::find(body, b"\"error\"").is_some() {
            self.error(String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
            return false;
        }
        match json_u64(body, "seq") {
            Some(seq) => {
                if seq != idx + 1 {
                    self.bad_seq += 1;
                }
                self.ok += 1;
                true
            }
            None => {
                self.error(format!(
                    "PubAck without seq: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ));
                false
            }
        }
    }

    fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

/// The first `"key":<number>` in a JSON text.
pub(crate) fn json_u64(body: &[u8], key: &str) -> Option<u64> {
    let pat = format!("\"{key}\":");
    let at = memchr::memmem::find(body, pat.as_bytes())? + pat.len();
    let digits: Vec<u8> = body[at..]
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// Append `PUB <subject> <inbox>.<idx> <len>\r\n<payload>\r\n`.
fn put_js_pub(out: &mut Vec<u8>, subject: &[u8], inbox: &[u8], idx: u64, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject);
    out.push(b' ');
    out.extend_from_slice(inbox);
    let _ = write!(out, ".{idx} {}\r\n", payload.len());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// Where jetcore puts the first stream of a fresh server: the least-loaded core, ties
/// (all, for the first stream) broken by FNV-1a of `$G.<name>` (`meta.rs` `place`).
/// Used only to steer `--placement` and to label runs.
fn jetcore_stream_core(shards: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("$G.{STREAM}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % shards.max(1) as u64) as usize
}

/// Send a request on `conn` (subscribed to `<inbox>.*`) and return the reply body.
pub(crate) async fn request(
    conn: &mut RawConn,
    subject: &str,
    inbox: &str,
    token: &str,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let reply = format!("{inbox}.{token}");
    let mut frame = Vec::new();
    jetcore_benches::put_pub(&mut frame, subject.as_bytes(), Some(reply.as_bytes()), body);
    conn.s
        .write_all(&frame)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some((f, n)) = next_frame(&conn.buf[conn.start..conn.end]).map_err(|e| e.0)? {
            let found = match f {
                Frame::Msg { args, body } if args.starts_with(reply.as_bytes()) => {
                    Some(body.to_vec())
                }
                Frame::Err(e) => return Err(format!("-ERR{}", String::from_utf8_lossy(e))),
                _ => None,
            };
            let ping = matches!(f, Frame::Ping);
            conn.start += n;
            if ping {
                conn.pong().await?;
            }
            if let Some(b) = found {
                if b.starts_with(b"NATS/1.0") {
                    let line = b.split(|&c| c == b'\r').next().unwrap_or(&b).to_vec();
                    return Err(format!(
                        "{subject}: status {}",
                        String::from_utf8_lossy(&line)
                    ));
                }
                return Ok(b);
            }
        }
        tokio::time::timeout_at(deadline, conn.fill())
            .await
            .map_err(|_| format!("{subject}: no reply within 10 s"))??;
    }
}

/// Connect with `setup` (subscriptions); jetcore with 2+ shards: honour `--placement`
/// relative to the core of the stream, and say where the connection (`who`) landed.
pub(crate) async fn connect_near_stream(
    o: &Opts,
    port: u16,
    probe: Option<&ShardProbe>,
    setup: &str,
    who: &str,
) -> Result<(RawConn, Option<String>), String> {
    let Some(p) = probe else {
        return Ok((
            RawConn::connect(port, setup.as_bytes(), 64 * 1024).await?,
            None,
        ));
    };
    let shards = p.threads.iter().map(|&(s, _)| s).max().map_or(1, |m| m + 1);
    let home = jetcore_stream_core(shards);
    let (c, s) = p
        .connect_placed(port, setup.as_bytes(), 64 * 1024, Some(home), o.placement)
        .await?;
    let rel = match s {
        Some(s) if s == home => "same core",
        Some(_) => "cross-core",
        None => "?",
    };
    let fit =
        if o.placement != Placement::Any && (o.placement == Placement::Same) != (s == Some(home)) {
            " (WANTED PLACEMENT NOT REACHED)"
        } else {
            ""
        };
    let label = format!(
        "stream on core {home}, {who} on {}: {rel}{fit}",
        shard_name(s)
    );
    Ok((c, Some(label)))
}

/// CPU per shard since `before` (taken with [`ShardProbe::cpu`] at the given time), in
/// cores: `shard cpu 0.95/0.10`.
pub(crate) fn shard_cpu_since(
    probe: Option<&ShardProbe>,
    before: Option<(Vec<Duration>, Instant)>,
) -> Option<String> {
    let (p, (before, t)) = (probe?, before?);
    let wall = t.elapsed().as_secs_f64().max(1e-9);
    let v: Vec<String> = p
        .cpu()
        .iter()
        .zip(&before)
        .map(|(a, b)| format!("{:.2}", a.saturating_sub(*b).as_secs_f64() / wall))
        .collect();
    Some(format!("shard cpu {}", v.join("/")))
}

/// Create the stream `BENCH` (subjects `bench.>`, one replica) with a request on
/// `conn`, which is subscribed to `<inbox>.*`.
pub(crate) async fn create_stream(
    conn: &mut RawConn,
    inbox: &str,
    storage: Storage,
) -> Result<(), String> {
    let create = format!(
        "{{\"name\":\"{STREAM}\",\"subjects\":[\"bench.>\"],\"storage\":\"{}\",\"num_replicas\":1}}",
        storage.json()
    );
    let reply = request(
        conn,
        &format!("$JS.API.STREAM.CREATE.{STREAM}"),
        inbox,
        "create",
        create.as_bytes(),
    )
    .await?;
    if memchr::memmem::find(&reply, b"\"error\"").is_some() {
        return Err(format!(
            "stream create failed: {}",
            String::from_utf8_lossy(&reply)
        ));
    }
    Ok(())
}

/// One js-pub run against the server on `port`.
pub async fn run(o: &Opts, case: JsCase, port: u16, pid: Option<u32>) -> Result<JsResult, String> {
    let tag = std::process::id();
    let inbox = format!("_INBOX.jsb.{tag}");
    let subject = format!("bench.js.{tag}");
    let setup = format!("SUB {inbox}.* 1\r\n");
    // jetcore with 2+ shards: the connection's shard relative to the stream's matters
    // (a publish to a stream on another core crosses cores twice).
    let probe = ShardProbe::new(pid);
    let (mut conn, placement) =
        connect_near_stream(o, port, probe.as_ref(), &setup, "publisher").await?;
    create_stream(&mut conn, &inbox, case.storage).await?;
    let shard_cpu = probe.as_ref().map(|p| (p.cpu(), Instant::now()));
    let mut r = match case.scenario {
        Scenario::Sync => sync_pub(o, case, &mut conn, &subject, &inbox, pid).await?,
        Scenario::Async => async_pub(o, case, &mut conn, &subject, &inbox, pid).await?,
    };
    // Per-shard CPU over the run (warm-up included): which cores did the work.
    let per_shard = shard_cpu_since(probe.as_ref(), shard_cpu);
    r.placement = match (placement, per_shard) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    // The stream must hold exactly what was acknowledged.
    if r.problem.is_none() {
        match request(
            &mut conn,
            &format!("$JS.API.STREAM.INFO.{STREAM}"),
            &inbox,
            "info",
            b"",
        )
        .await
        {
            Ok(info) => {
                let want = r.total_ok;
                let got = (
                    json_u64(&info, "messages"),
                    json_u64(&info, "first_seq"),
                    json_u64(&info, "last_seq"),
                );
                if got != (Some(want), Some(1), Some(want)) && want > 0 {
                    r.result.problem = Some(format!(
                        "STREAM.INFO says messages {:?} first_seq {:?} last_seq {:?}, {want} acked",
                        got.0, got.1, got.2
                    ));
                }
            }
            Err(e) => r.result.problem = Some(format!("STREAM.INFO: {e}")),
        }
    }
    Ok(r.result)
}

/// A scenario's result plus the successful PubAcks of all parts.
struct Outcome {
    result: JsResult,
    total_ok: u64,
}

impl std::ops::Deref for Outcome {
    type Target = JsResult;
    fn deref(&self) -> &JsResult {
        &self.result
    }
}

impl std::ops::DerefMut for Outcome {
    fn deref_mut(&mut self) -> &mut JsResult {
        &mut self.result
    }
}

/// One publish in flight: warm-up, then the measured part.
async fn sync_pub(
    o: &Opts,
    case: JsCase,
    conn: &mut RawConn,
    subject: &str,
    inbox: &str,
    pid: Option<u32>,
) -> Result<Outcome, String> {
    let payload = vec![b'p'; case.size];
    let mut frame = Vec::with_capacity(case.size + 128);
    let mut acks = Acks::default();
    let mut hist = new_histogram();
    let mut idx = 0u64;
    let hard = Instant::now() + o.timeout;
    let mut problem = None;
    // One publish and its PubAck; Err = no usable reply.
    async fn one(
        conn: &mut RawConn,
        frame: &[u8],
        acks: &mut Acks,
        hard: Instant,
    ) -> Result<bool, String> {
        conn.s
            .write_all(frame)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut pings = 0;
        let ok = 'reply: loop {
            while let Some((f, n)) = next_frame(&conn.buf[conn.start..conn.end]).map_err(|e| e.0)? {
                let got = match f {
                    Frame::Msg { args, body } => Some(acks.on_reply(args, body)),
                    Frame::Ping => {
                        pings += 1;
                        None
                    }
                    Frame::Err(e) => return Err(format!("-ERR{}", String::from_utf8_lossy(e))),
                    Frame::Pong | Frame::Other => None,
                };
                conn.start += n;
                if let Some(ok) = got {
                    break 'reply ok;
                }
            }
            tokio::time::timeout_at(hard.into(), conn.fill())
                .await
                .map_err(|_| "no PubAck before the hard time limit".to_string())??;
        };
        for _ in 0..pings {
            conn.pong().await?;
        }
        Ok(ok)
    }
    for _ in 0..o.warmup {
        frame.clear();
        put_js_pub(
            &mut frame,
            subject.as_bytes(),
            inbox.as_bytes(),
            idx,
            &payload,
        );
        idx += 1;
        if let Err(e) = one(conn, &frame, &mut acks, hard).await {
            problem = Some(format!("warm-up: {e}"));
            break;
        }
    }
    let meter = CpuMeter::start(pid);
    let t0 = meter.start;
    let first = idx;
    let mut acked = 0u64;
    while problem.is_none() {
        let now = Instant::now();
        let more = match o.count {
            Some(n) => idx - first < n,
            None => now - t0 < o.duration,
        };
        if !more {
            break;
        }
        if now >= hard {
            problem = Some("hard time limit reached".into());
            break;
        }
        frame.clear();
        put_js_pub(
            &mut frame,
            subject.as_bytes(),
            inbox.as_bytes(),
            idx,
            &payload,
        );
        idx += 1;
        let t = Instant::now();
        match one(conn, &frame, &mut acks, hard).await {
            Ok(ok) => {
                hist.saturating_record((t.elapsed().as_nanos() as u64).max(1));
                acked += u64::from(ok);
            }
            Err(e) => problem = Some(e),
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = meter.stop();
    let answered = acks.seen.iter().filter(|&&s| s).count() as u64;
    Ok(Outcome {
        total_ok: acks.ok,
        result: JsResult {
            size: case.size,
            sent: idx - first,
            acked,
            errors: acks.errors,
            first_error: acks.first_error,
            missing: idx.saturating_sub(answered),
            bad_seq: acks.bad_seq,
            rate: acked as f64 / elapsed.max(1e-9),
            lat: Some(Latency {
                p50: hist.value_at_quantile(0.5),
                p90: hist.value_at_quantile(0.9),
                p99: hist.value_at_quantile(0.99),
                p999: hist.value_at_quantile(0.999),
                max: hist.max(),
            }),
            cpu,
            placement: None,
            problem,
        },
    })
}

/// The read side of a connection, split off for the async scenario.
pub(crate) struct Reader<'a> {
    pub(crate) rd: ReadHalf<'a>,
    pub(crate) buf: &'a mut Vec<u8>,
    pub(crate) start: &'a mut usize,
    pub(crate) end: &'a mut usize,
}

impl Reader<'_> {
    pub(crate) async fn fill(&mut self) -> Result<(), String> {
        if *self.start > 0 {
            self.buf.copy_within(*self.start..*self.end, 0);
            *self.end -= *self.start;
            *self.start = 0;
        }
        if *self.end == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        let n = self
            .rd
            .read(&mut self.buf[*self.end..])
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        *self.end += n;
        Ok(())
    }
}

/// What one pipelined part did.
pub(crate) struct Part {
    pub(crate) sent: u64,
    /// Successful PubAcks in this part.
    pub(crate) ok: u64,
    /// When the last reply arrived.
    pub(crate) last: Instant,
    pub(crate) problem: Option<String>,
}

/// Publish with up to `window` PubAcks outstanding, from index `first`, until `count`
/// messages are sent or `until` has passed; then wait for the outstanding PubAcks.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pipelined(
    rd: &mut Reader<'_>,
    wr: &mut WriteHalf<'_>,
    acks: &mut Acks,
    (subject, inbox, payload): (&[u8], &[u8], &[u8]),
    first: u64,
    count: Option<u64>,
    until: Instant,
    hard: Instant,
    window: usize,
) -> Part {
    let sem = Semaphore::new(window);
    // Both halves run in this task (join!), so plain cells suffice.
    let total: Cell<Option<u64>> = Cell::new(None);
    let pongs = Cell::new(0usize);
    let done = Notify::new();
    let writer = async {
        let mut idx = first;
        let mut out = Vec::with_capacity(MAX_BATCH * (payload.len() + 96));
        let res = loop {
            let left = count.map_or(u64::MAX, |c| first + c - idx);
            let now = Instant::now();
            if left == 0 || now >= until || now >= hard {
                break Ok(());
            }
            let Ok(p) = sem.acquire().await else {
                break Ok(());
            };
            p.forget();
            let mut n = 1;
            while (n as u64) < left.min(MAX_BATCH as u64) {
                match sem.try_acquire() {
                    Ok(p) => {
                        p.forget();
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
            out.clear();
            for _ in 0..n {
                put_js_pub(&mut out, subject, inbox, idx, payload);
                idx += 1;
            }
            for _ in 0..pongs.take() {
                out.extend_from_slice(b"PONG\r\n");
            }
            if let Err(e) = wr.write_all(&out).await {
                break Err(format!("write: {e}"));
            }
        };
        total.set(Some(idx - first));
        done.notify_one();
        res
    };
    let reader = async {
        let mut replies = 0u64;
        let mut ok = 0u64;
        let mut last = Instant::now();
        loop {
            let mut got = 0usize;
            loop {
                let f = match next_frame(&rd.buf[*rd.start..*rd.end]) {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => return (ok, last, Some(e.0)),
                };
                let (frame, n) = f;
                match frame {
                    Frame::Msg { args, body } => {
                        got += 1;
                        ok += u64::from(acks.on_reply(args, body));
                    }
                    Frame::Ping => pongs.set(pongs.get() + 1),
                    Frame::Err(e) => {
                        let e = format!("-ERR{}", String::from_utf8_lossy(e));
                        return (ok, last, Some(e));
                    }
                    Frame::Pong | Frame::Other => {}
                }
                *rd.start += n;
            }
            if got > 0 {
                replies += got as u64;
                last = Instant::now();
                sem.add_permits(got);
            }
            let want = total.get();
            if want.is_some_and(|t| replies >= t) {
                return (ok, last, None);
            }
            let now = Instant::now();
            if now >= hard {
                return (ok, last, Some("hard time limit reached".into()));
            }
            let wait = if want.is_some() {
                ACK_GRACE
            } else {
                hard - now
            };
            let read = tokio::select! {
                r = tokio::time::timeout(wait, rd.fill()) => Some(r),
                _ = done.notified(), if want.is_none() => None,
            };
            match read {
                None | Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => return (ok, last, Some(e)),
                Some(Err(_)) => {
                    let e = format!(
                        "{} PubAcks missing after {ACK_GRACE:?} of silence",
                        want.unwrap_or(0).saturating_sub(replies)
                    );
                    return (ok, last, Some(e));
                }
            }
        }
    };
    // A reader that gives up must not leave the writer waiting for window slots.
    let reader = async {
        let r = reader.await;
        sem.close();
        r
    };
    let (w, (ok, last, problem)) = tokio::join!(writer, reader);
    Part {
        sent: total.get().unwrap_or(0),
        ok,
        last,
        problem: w.err().or(problem),
    }
}

/// A window of outstanding PubAcks: warm-up, then the measured part.
async fn async_pub(
    o: &Opts,
    case: JsCase,
    conn: &mut RawConn,
    subject: &str,
    inbox: &str,
    pid: Option<u32>,
) -> Result<Outcome, String> {
    let payload = vec![b'p'; case.size];
    let names = (subject.as_bytes(), inbox.as_bytes(), payload.as_slice());
    let mut acks = Acks::default();
    let hard = Instant::now() + o.timeout;
    let RawConn { s, buf, start, end } = conn;
    let (rd, mut wr) = s.split();
    let mut rd = Reader {
        rd,
        buf,
        start,
        end,
    };
    let far = hard;
    let mut problem = None;
    let mut idx = 0;
    if o.warmup > 0 {
        let w = pipelined(
            &mut rd,
            &mut wr,
            &mut acks,
            names,
            0,
            Some(o.warmup),
            far,
            hard,
            o.js.window,
        )
        .await;
        idx = w.sent;
        problem = w.problem.map(|p| format!("warm-up: {p}"));
    }
    let meter = CpuMeter::start(pid);
    let t0 = meter.start;
    let (sent, acked, last) = if problem.is_none() {
        let until = match o.count {
            Some(_) => far,
            None => t0 + o.duration,
        };
        let m = pipelined(
            &mut rd,
            &mut wr,
            &mut acks,
            names,
            idx,
            o.count,
            until,
            hard,
            o.js.window,
        )
        .await;
        problem = m.problem;
        idx += m.sent;
        (m.sent, m.ok, m.last)
    } else {
        (0, 0, t0)
    };
    let cpu = meter.stop();
    let answered = acks.seen.iter().filter(|&&s| s).count() as u64;
    Ok(Outcome {
        total_ok: acks.ok,
        result: JsResult {
            size: case.size,
            sent,
            acked,
            errors: acks.errors,
            first_error: acks.first_error,
            missing: idx.saturating_sub(answered),
            bad_seq: acks.bad_seq,
            rate: acked as f64 / (last - t0).as_secs_f64().max(1e-9),
            lat: None,
            cpu,
            placement: None,
            problem,
        },
    })
}

fn js(r: &RunResult) -> Option<&JsResult> {
    match r {
        RunResult::Js(j) => Some(j),
        _ => None,
    }
}

/// Median of `f` over the successful runs.
fn stat(rs: &[RunResult], f: impl Fn(&JsResult) -> f64) -> f64 {
    median(rs.iter().filter_map(js).filter(|r| r.ok()).map(f).collect())
}

/// Print the medians of one combination; returns its rows for [`print_table`].
pub fn print_summary(
    o: &Opts,
    case: JsCase,
    results: &[(ServerKind, Vec<RunResult>)],
) -> Vec<String> {
    let ok = |rs: &[RunResult]| rs.iter().filter_map(js).filter(|r| r.ok()).count();
    let go = results
        .iter()
        .find(|(k, rs)| *k == ServerKind::Go && ok(rs) > 0)
        .map(|(_, rs)| rs);
    let sync = case.scenario == Scenario::Sync;
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
        "p50",
        "p99",
        "srv cpu",
        "gen cpu",
        "other",
        "msgs ratio",
        "p50 ratio"
    );
    let mut rows = Vec::new();
    for (k, rs) in results {
        let rate = stat(rs, |r| r.rate);
        let p50 = stat(rs, |r| r.lat.map_or(f64::NAN, |l| l.p50 as f64));
        let p99 = stat(rs, |r| r.lat.map_or(f64::NAN, |l| l.p99 as f64));
        let n = ok(rs);
        let (rate_ratio, p50_ratio) = match (go, k) {
            (Some(g), ServerKind::Jetcore { .. }) if n > 0 => {
                let gr = stat(g, |r| r.rate);
                let gp = stat(g, |r| r.lat.map_or(f64::NAN, |l| l.p50 as f64));
                (
                    format!("{:.2}x", rate / gr),
                    if sync {
                        format!("{:.2}x", p50 / gp)
                    } else {
                        String::new()
                    },
                )
            }
            _ => (String::new(), String::new()),
        };
        let lat = |v: f64| {
            if sync && v.is_finite() {
                us(v as u64)
            } else {
                "-".to_string()
            }
        };
        println!(
            "  {:<11} {:>7} {:>11} {:>8.1} {:>9} {:>9} {:>8.2} {:>8.2} {:>6.2} {:>10} {:>10}",
            k.to_string(),
            format!("{n}/{}", rs.len()),
            si(rate),
            rate * case.size as f64 / 1e6,
            lat(p50),
            lat(p99),
            stat(rs, |r| r.cpu.server.unwrap_or(f64::NAN)),
            stat(rs, |r| r.cpu.gen),
            stat(rs, |r| r.cpu.other.unwrap_or(f64::NAN)),
            rate_ratio,
            p50_ratio
        );
        let (scenario, storage) = (if sync { "sync" } else { "async" }, case.storage.json());
        rows.push(format!(
            "| {scenario} | {storage} | {} | {k} | {n}/{} | {} | {} | {} | {} | {} |",
            case.size,
            rs.len(),
            si(rate),
            lat(p50),
            lat(p99),
            if rate_ratio.is_empty() {
                ""
            } else {
                &rate_ratio
            },
            p50_ratio
        ));
    }
    rows
}

/// All combinations in one markdown table.
pub fn print_table(o: &Opts, rows: &[String]) {
    println!(
        "\nall combinations (medians of {} round(s); ratios jetcore / Go):",
        o.rounds
    );
    println!("| scenario | storage | size | server | ok/runs | msgs/s | p50 | p99 | msgs/s ratio | p50 ratio |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
