//! `jetcore-loadgen`: a load generator for NATS servers on loopback, able to start
//! jetcore or the Go `nats-server` itself and compare them in one run.
//!
//! ```text
//! jetcore-loadgen pubsub --pubs 4 --size 128 --duration 5 --compare --cores 1,2
//! jetcore-loadgen reqrep --size 128 --duration 5 --compare --cores 1,2
//! ```
//!
//! Publishers and subscribers speak raw TCP: each publisher writes pipelined `PUB`
//! frames in large buffers (the sequence number of every message patched into its
//! payload), the subscriber reads large chunks and only looks at each `MSG` control
//! line and the first 12 payload bytes (publisher id, sequence) to check that nothing
//! was lost, duplicated or reordered. Request/reply uses raw TCP (default) or
//! async-nats (`--client async-nats`). Every run is bounded in time. `--help` lists
//! the options; `docs/benchmarks.md` has the measured results.
//!
//! JetStream publish (`js-pub`, `js-pub-sync`, `js-pub-async`; `loadgen_js.rs`): every
//! run starts the server with JetStream on a fresh store directory, creates one stream
//! and publishes to it with a reply subject per message, one request at a time (sync:
//! latency percentiles) or with a window of outstanding PubAcks (async: throughput).
//!
//! ```text
//! jetcore-loadgen js-pub --storage file,memory --size 16,128,1024 --compare --cores 2
//! ```
//!
//! JetStream consumers (`js-consume`: `js-pull-fetch`, `js-pull-consume`, `js-push`,
//! `js-ordered`; `loadgen_consume.rs`): every run preloads a fresh stream (not timed),
//! creates one consumer and times consuming (and acking) every message, checking that
//! each stream sequence arrived exactly once and that the consumer ends fully acked.
//!
//! ```text
//! jetcore-loadgen js-consume --storage memory,file --compare --cores 1
//! ```

#[path = "loadgen_consume.rs"]
mod consume;
#[path = "loadgen_js.rs"]
mod js;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use jetcore_benches::{
    machine_busy_time, next_frame, own_cpu_time, pin_self, process_cpu_time, put_pub,
    shard_threads, thread_cpu_time, wait_for_quiet, Frame, Server, ServerKind, ServerSpec, CONNECT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USAGE: &str = "\
jetcore-loadgen MODE [options]

MODE:
  pubsub   N publishers -> 1 subscriber on one subject; msgs/s sent and received,
           and a check that every message arrived once, in order per publisher
  reqrep   one requester doing sequential requests to one responder; latency
           percentiles (hdrhistogram)
  js-pub   JetStream publish to one stream (servers started with -js on a fresh
           store dir; stream BENCH, subjects bench.>), only acked messages counted,
           every PubAck checked (success, sequence = publish order, no gaps):
             sync:  one publish in flight; PubAck latency percentiles and msgs/s
             async: a window of outstanding PubAcks (--window); msgs/s
           js-pub runs --scenario (default sync,async) x --storage x --size, each
           combination with its own rounds and summary, then one table of all
  js-pub-sync, js-pub-async
           js-pub with only that scenario
  js-consume
           JetStream consumers (fresh server and stream BENCH per run): preload
           --count messages (default 100000; PubAck window --window, not timed),
           create the consumer, time consuming all of them; check every stream
           sequence arrives once and CONSUMER.INFO ends with num_pending 0,
           num_ack_pending 0, ack_floor.stream_seq N. Runs --scenario (default all)
           x --storage x --size:
             pull-fetch:   durable pull, explicit ack; one MSG.NEXT {batch,expires}
                           at a time, +ACK every message, next fetch; fetch round
                           trip percentiles
             pull-consume: durable pull, explicit ack, like consume(): keep --batch
                           requested (expires 30s, idle_heartbeat 15s), ask again at
                           half; +ACK every message
             push:         durable push (deliver subject), explicit ack, flow control
                           + idle_heartbeat 5s answered; +ACK every message
             ordered:      ephemeral push as clients' ordered consumers: ack none,
                           max_deliver 1, flow control, heartbeat 5s, mem_storage
  js-pull-fetch, js-pull-consume, js-push, js-ordered
           js-consume with only that scenario

Server (started by the load generator on 127.0.0.1, a free port, killed at the end):
  --server jetcore|go   which server (default jetcore)
  --cores LIST          jetcore --cores; a list (1,2) runs each (default 1)
  --compare             run the jetcore configs and Go, interleaved, each round
  --rounds N            rounds (default 3 with --compare, else 1); medians reported
  --server-cpus LIST    run the server under `taskset -c LIST`
  --go-procs N          GOMAXPROCS for Go (default: Go's own, the CPUs it may use)
  --port P              use a server already listening on 127.0.0.1:P instead
  --placement any|same|cross
                        jetcore with 2+ shards: reconnect publishers (requester) until
                        each is on the same shard as the subscriber (responder), or on
                        another one (default any: take what the kernel gives). The shard
                        of a connection is found by a burst of PINGs and the shard
                        threads' CPU time; it is printed for every run. js-pub: the
                        publisher relative to the core that owns the stream
  --quiet-wait SECS     before each run, wait up to SECS for the machine to be idle
                        (< 0.1 CPU busy; default 60, 0 = don't wait)
  --busy-retries N      rerun a run during which other processes used > 0.15 CPU,
                        up to N times (default 2; the last try is kept regardless)

Load generator:
  --gen-cpus LIST       pin the load generator to these CPUs
  --gen-threads N       tokio worker threads (default 1: a current-thread runtime)
  --size BYTES          payload size (default 128); js-pub: a list (16,128,1024)
  --duration SECS       length of each run (default 5; js-pub: 2)
  --count N             instead of a duration: messages per publisher / requests
  --timeout SECS        hard limit of one run (default duration + 30, or 120 with --count)

pubsub:
  --pubs N              publishers (default 1)
  --batch BYTES         bytes per publisher write (default 65536)

reqrep:
  --client raw|async-nats  client for both sides (default raw)
  --warmup N            requests before measuring (default 1000; js-pub: messages)

js-pub:
  --scenario LIST       sync, async or sync,async (default both; also js-pub-sync...)
  --storage LIST        file, memory or file,memory (default file)
  --window N            async: outstanding PubAcks (default 256)
  --store-dir DIR       parent of the per-run store directories (default $TMPDIR or
                        /tmp; each run gets its own, removed afterwards)
  --jetcore-config FILE start jetcore with -c FILE (e.g. jetstream { sync_interval: 2m })
  --go-config FILE      start Go with -c FILE (e.g. jetstream { sync_interval: always })
  --long                long mode: --duration 20 --rounds 5 --warmup 10000 unless
                        given (the default is a quick 2 s run, 3 rounds with --compare)

js-consume (also --storage, --size LIST, --window, --store-dir, --*-config):
  --scenario LIST       pull-fetch, pull-consume, push, ordered (default all)
  --count N             messages per run (default 100000; --long: 1000000)
  --batch N             messages per pull request (default 100 pull-fetch, 500
                        pull-consume)
  --expires SECS        pull request expiry (default 5 pull-fetch, 30 pull-consume)
  --long                --count 1000000 --rounds 5 unless given

Output: a line per run (prefixed [run i/total, elapsed]), medians per combination,
and one machine-readable line per server configuration and combination:
  RESULT {\"mode\":\"pubsub\",\"case\":\"default\",\"server\":\"jetcore/1c\",\"ok\":3,
          \"runs\":3,\"metrics\":{\"recv_msgs_per_sec\":...},\"headline\":
          \"recv_msgs_per_sec\",\"ratio\":1.85}
(medians of the successful runs; ratio = jetcore/Go of the headline metric, present
with --compare; for latencies (p50_us) lower is better.)
";

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    PubSub,
    ReqRep,
    JsPub,
    JsConsume,
}

impl Mode {
    /// The mode's name on the command line and in result lines.
    fn name(self) -> &'static str {
        match self {
            Mode::PubSub => "pubsub",
            Mode::ReqRep => "reqrep",
            Mode::JsPub => "js-pub",
            Mode::JsConsume => "js-consume",
        }
    }
}

/// Client used for request/reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientKind {
    Raw,
    AsyncNats,
}

/// Parsed command line.
#[derive(Clone, Debug)]
struct Opts {
    mode: Mode,
    server: ServerKind,
    cores: Vec<usize>,
    compare: bool,
    rounds: usize,
    server_cpus: Option<String>,
    go_procs: Option<usize>,
    port: Option<u16>,
    gen_cpus: Option<String>,
    gen_threads: usize,
    size: usize,
    duration: Duration,
    count: Option<u64>,
    timeout: Duration,
    pubs: usize,
    batch: usize,
    client: ClientKind,
    warmup: u64,
    quiet_wait: Duration,
    busy_retries: usize,
    placement: Placement,
    /// `--size` as given (js-pub runs each).
    sizes: Vec<usize>,
    js: js::JsOpts,
    consume: consume::ConsumeOpts,
}

/// Where connections should sit relative to the subscriber / responder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    Any,
    Same,
    Cross,
}

fn parse_args() -> Result<Opts, String> {
    let mut args = std::env::args().skip(1);
    let mut js = js::JsOpts::default();
    let mut cons = consume::ConsumeOpts::default();
    let mode = match args.next().as_deref() {
        Some("pubsub") => Mode::PubSub,
        Some("reqrep") => Mode::ReqRep,
        Some("js-pub") => Mode::JsPub,
        Some(m @ ("js-pub-sync" | "js-pub-async")) => {
            js.scenarios = js::parse_scenarios(m)?;
            Mode::JsPub
        }
        Some("js-consume") => Mode::JsConsume,
        Some(m @ ("js-pull-fetch" | "js-pull-consume" | "js-push" | "js-ordered")) => {
            cons.scenarios = consume::parse_scenarios(m)?;
            Mode::JsConsume
        }
        Some("-h") | Some("--help") | None => return Err(String::new()),
        Some(m) => return Err(format!("unknown mode {m:?}")),
    };
    let mut o = Opts {
        mode,
        server: ServerKind::Jetcore { cores: 1 },
        cores: vec![1],
        compare: false,
        rounds: 0,
        server_cpus: None,
        go_procs: None,
        port: None,
        gen_cpus: None,
        gen_threads: 1,
        size: 128,
        duration: Duration::from_secs(5),
        count: None,
        timeout: Duration::ZERO,
        pubs: 1,
        batch: 64 * 1024,
        client: ClientKind::Raw,
        warmup: 1000,
        quiet_wait: Duration::from_secs(60),
        busy_retries: 2,
        placement: Placement::Any,
        sizes: vec![128],
        js,
        consume: cons,
    };
    // Which of the defaults that --long changes were given explicitly.
    let (mut duration_set, mut warmup_set, mut batch_set) = (false, false, false);
    fn num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        v.parse()
            .map_err(|_| format!("{flag}: {v:?} is not a valid number"))
    }
    while let Some(a) = args.next() {
        match a.as_str() {
            "--server" => {
                o.server = match args.next().as_deref() {
                    Some("jetcore") => ServerKind::Jetcore { cores: 1 },
                    Some("go") => ServerKind::Go,
                    other => return Err(format!("--server {other:?}: jetcore or go")),
                }
            }
            "--cores" => {
                let v = args.next().ok_or("--cores needs a value")?;
                o.cores = v
                    .split(',')
                    .map(|c| c.parse::<usize>().ok().filter(|&c| c > 0))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("--cores {v:?}: a list of numbers ≥ 1"))?;
            }
            "--compare" => o.compare = true,
            "--rounds" => o.rounds = num(&a, args.next())?,
            "--server-cpus" => o.server_cpus = Some(args.next().ok_or("--server-cpus value")?),
            "--go-procs" => o.go_procs = Some(num(&a, args.next())?),
            "--port" => o.port = Some(num(&a, args.next())?),
            "--gen-cpus" => o.gen_cpus = Some(args.next().ok_or("--gen-cpus value")?),
            "--gen-threads" => o.gen_threads = num::<usize>(&a, args.next())?.max(1),
            "--size" => {
                let v = args.next().ok_or("--size needs a value")?;
                o.sizes = v
                    .split(',')
                    .map(|c| c.parse::<usize>().ok())
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("--size {v:?}: a number or a list of numbers"))?;
            }
            "--duration" => {
                o.duration = Duration::from_secs_f64(num(&a, args.next())?);
                duration_set = true;
            }
            "--count" => o.count = Some(num(&a, args.next())?),
            "--timeout" => o.timeout = Duration::from_secs_f64(num(&a, args.next())?),
            "--pubs" => o.pubs = num::<usize>(&a, args.next())?.max(1),
            "--batch" => {
                o.batch = num::<usize>(&a, args.next())?.max(1);
                batch_set = true;
            }
            "--expires" => {
                let secs: f64 = num(&a, args.next())?;
                if !(0.001..=3600.0).contains(&secs) {
                    return Err("--expires: 0.001 to 3600 seconds".into());
                }
                o.consume.expires = Some(Duration::from_secs_f64(secs));
            }
            "--client" => {
                o.client = match args.next().as_deref() {
                    Some("raw") => ClientKind::Raw,
                    Some("async-nats") => ClientKind::AsyncNats,
                    other => return Err(format!("--client {other:?}: raw or async-nats")),
                }
            }
            "--warmup" => {
                o.warmup = num(&a, args.next())?;
                warmup_set = true;
            }
            "--scenario" => {
                let v = args.next().ok_or("--scenario value")?;
                if o.mode == Mode::JsConsume {
                    o.consume.scenarios = consume::parse_scenarios(&v)?;
                } else {
                    o.js.scenarios = js::parse_scenarios(&v)?;
                }
            }
            "--storage" => {
                o.js.storages = js::parse_storages(&args.next().ok_or("--storage value")?)?
            }
            "--window" => o.js.window = num::<usize>(&a, args.next())?.max(1),
            "--store-dir" => {
                o.js.store_parent = Some(args.next().ok_or("--store-dir value")?.into())
            }
            "--jetcore-config" => {
                o.js.jetcore_config = Some(args.next().ok_or("--jetcore-config value")?)
            }
            "--go-config" => o.js.go_config = Some(args.next().ok_or("--go-config value")?),
            "--long" => o.js.long = true,
            "--quiet-wait" => o.quiet_wait = Duration::from_secs_f64(num(&a, args.next())?),
            "--busy-retries" => o.busy_retries = num(&a, args.next())?,
            "--placement" => {
                o.placement = match args.next().as_deref() {
                    Some("any") => Placement::Any,
                    Some("same") => Placement::Same,
                    Some("cross") => Placement::Cross,
                    other => return Err(format!("--placement {other:?}: any, same or cross")),
                }
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if o.mode == Mode::JsConsume {
        if batch_set {
            o.consume.batch = Some(o.batch);
        }
        if o.count.is_none() {
            o.count = Some(if o.js.long {
                consume::LONG_COUNT
            } else {
                consume::DEFAULT_COUNT
            });
        }
        if o.js.long && o.rounds == 0 {
            o.rounds = 5;
        }
        if o.count == Some(0) {
            return Err("--count: at least 1 message".into());
        }
    } else if o.mode == Mode::JsPub {
        if o.js.long {
            if !duration_set {
                o.duration = Duration::from_secs(20);
            }
            if !warmup_set {
                o.warmup = 10_000;
            }
            if o.rounds == 0 {
                o.rounds = 5;
            }
        } else if !duration_set {
            o.duration = Duration::from_secs(2);
        }
    } else if o.sizes.len() != 1 {
        return Err("--size: one size for pubsub and reqrep".into());
    } else if o.js.long {
        return Err("--long: js-pub and js-consume only".into());
    }
    o.size = o.sizes[0];
    if o.rounds == 0 {
        o.rounds = if o.compare { 3 } else { 1 };
    }
    if o.timeout.is_zero() {
        o.timeout = if o.mode == Mode::JsConsume {
            // Preload and consume, both bounded by it.
            Duration::from_secs(if o.js.long { 600 } else { 120 })
        } else if o.count.is_some() {
            Duration::from_secs(120)
        } else {
            o.duration + Duration::from_secs(30)
        };
    }
    if o.duration > Duration::from_secs(600) {
        return Err("--duration: at most 600 s".into());
    }
    if o.compare && o.port.is_some() {
        return Err("--compare starts its own servers; drop --port".into());
    }
    Ok(o)
}

/// One server configuration under test.
fn targets(o: &Opts) -> Vec<ServerKind> {
    let jetcores = o.cores.iter().map(|&cores| ServerKind::Jetcore { cores });
    if o.compare {
        jetcores.chain([ServerKind::Go]).collect()
    } else if o.server == ServerKind::Go {
        vec![ServerKind::Go]
    } else {
        jetcores.collect()
    }
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(cpus) = &o.gen_cpus {
        if let Err(e) = pin_self(cpus) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let rt = if o.gen_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(o.gen_threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    print_setup(&o);
    let targets = if o.port.is_some() {
        vec![o.server]
    } else {
        targets(&o)
    };
    let cases: Vec<Option<Case>> = match o.mode {
        Mode::JsPub => js::cases(&o)
            .into_iter()
            .map(|c| Some(Case::Pub(c)))
            .collect(),
        Mode::JsConsume => consume::cases(&o)
            .into_iter()
            .map(|c| Some(Case::Consume(c)))
            .collect(),
        _ => vec![None],
    };
    let mut failed = false;
    let mut table = Vec::new();
    let mut results_out = Vec::new();
    let mut progress = Progress {
        done: 0,
        total: cases.len() * o.rounds * targets.len(),
        started: Instant::now(),
    };
    for &case in &cases {
        if let Some(c) = case {
            println!("\n== {c} ==");
        }
        let results = run_case(&o, &rt, &targets, case, &mut failed, &mut progress);
        let case_name = case.map_or_else(
            || match o.mode {
                Mode::PubSub => format!("{} pub -> 1 sub, {} B", o.pubs, o.size),
                _ => format!("{} B, {:?} client", o.size, o.client),
            },
            |c| c.to_string(),
        );
        results_out.extend(result_lines(o.mode.name(), &case_name, &results));
        match case {
            Some(Case::Pub(c)) => table.extend(js::print_summary(&o, c, &results)),
            Some(Case::Consume(c)) => table.extend(consume::print_summary(&o, c, &results)),
            None => print_summary(&o, &results),
        }
    }
    if cases.len() > 1 {
        match o.mode {
            Mode::JsConsume => consume::print_table(&o, &table),
            _ => js::print_table(&o, &table),
        }
    }
    println!();
    for line in &results_out {
        println!("{line}");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs done out of all planned, for the progress prefix of each run line.
struct Progress {
    /// Runs finished (or failed).
    done: usize,
    /// Runs planned: combinations × rounds × server configurations.
    total: usize,
    /// When the first run started.
    started: Instant,
}

impl Progress {
    /// Count a run and give its prefix: `[run 4/18, 1m05s, ~3m10s left]`.
    fn step(&mut self) -> String {
        self.done += 1;
        let elapsed = self.started.elapsed().as_secs();
        let left = if self.done > 0 {
            elapsed * (self.total.saturating_sub(self.done)) as u64 / self.done as u64
        } else {
            0
        };
        let mmss = |s: u64| format!("{}m{:02}s", s / 60, s % 60);
        format!(
            "[run {}/{}, {}, ~{} left]",
            self.done,
            self.total,
            mmss(elapsed),
            mmss(left)
        )
    }
}

/// One combination of a JetStream mode.
#[derive(Clone, Copy, Debug)]
enum Case {
    Pub(js::JsCase),
    Consume(consume::ConsumeCase),
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Case::Pub(c) => c.fmt(f),
            Case::Consume(c) => c.fmt(f),
        }
    }
}

/// All rounds of one combination (for pubsub/reqrep: the only one); per server
/// configuration, the results of its runs.
fn run_case(
    o: &Opts,
    rt: &tokio::runtime::Runtime,
    targets: &[ServerKind],
    case: Option<Case>,
    failed: &mut bool,
    progress: &mut Progress,
) -> Vec<(ServerKind, Vec<RunResult>)> {
    let mut results: Vec<(ServerKind, Vec<RunResult>)> =
        targets.iter().map(|&t| (t, Vec::new())).collect();
    for round in 0..o.rounds {
        // Rotate the order so that no configuration always runs first (or last).
        for k in 0..targets.len() {
            let i = (k + round) % targets.len();
            let target = targets[i];
            let mut tries = 0;
            let res = loop {
                if !o.quiet_wait.is_zero() {
                    let (quiet, load) = wait_for_quiet(o.quiet_wait, 0.1);
                    if !quiet {
                        println!(
                            "warning: machine still busy ({load:.2} CPUs) after {:?}; running anyway",
                            o.quiet_wait
                        );
                    }
                }
                let res = rt.block_on(run_once(o, target, case));
                match &res {
                    Ok(r) if r.busy() && tries < o.busy_retries => {
                        tries += 1;
                        println!(
                            "round {} {:<11} discarded (other processes used {:.2} CPU), retrying",
                            round + 1,
                            target.to_string(),
                            r.cpu().other.unwrap_or(0.0)
                        );
                    }
                    _ => break res,
                }
            };
            let step = progress.step();
            match res {
                Ok(r) => {
                    println!(
                        "{step} round {} {:<11} {}",
                        round + 1,
                        target.to_string(),
                        r.line()
                    );
                    *failed |= !r.ok();
                    results[i].1.push(r);
                }
                Err(e) => {
                    println!(
                        "{step} round {} {:<11} FAILED: {e}",
                        round + 1,
                        target.to_string()
                    );
                    *failed = true;
                }
            }
        }
    }
    results
}

fn print_setup(o: &Opts) {
    let what = match o.mode {
        Mode::PubSub => format!(
            "pubsub: {} publisher(s) -> 1 subscriber, {} B payload, {}",
            o.pubs,
            o.size,
            length(o)
        ),
        Mode::ReqRep => format!(
            "reqrep: 1 requester -> 1 responder ({:?} client), {} B payload, {}, {} warm-up requests",
            o.client,
            o.size,
            length(o),
            o.warmup
        ),
        Mode::JsPub => js::describe(o),
        Mode::JsConsume => consume::describe(o),
    };
    println!("{what}");
    println!(
        "cpus online: {}; server pinned: {}; generator pinned: {}; generator threads: {}; GOMAXPROCS: {}",
        // SAFETY: sysconf has no preconditions.
        unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) },
        o.server_cpus.as_deref().unwrap_or("no"),
        o.gen_cpus.as_deref().unwrap_or("no"),
        o.gen_threads,
        o.go_procs
            .map_or_else(|| "Go default".to_string(), |p| p.to_string())
    );
}

fn length(o: &Opts) -> String {
    match o.count {
        Some(n) => format!("{n} messages/requests per client"),
        None => format!("{:.1} s per run", o.duration.as_secs_f64()),
    }
}

/// What one run measured.
#[derive(Clone, Debug)]
enum RunResult {
    PubSub(PubSubResult),
    ReqRep(ReqRepResult),
    Js(js::JsResult),
    Consume(consume::ConsumeResult),
}

#[derive(Clone, Debug)]
struct PubSubResult {
    sent: u64,
    received: u64,
    /// Per-publisher gaps plus tail not received.
    lost: u64,
    /// Messages with a sequence number below the expected one.
    out_of_order: u64,
    /// Sent msgs/s: messages over the time until the last publisher's PONG.
    send_rate: f64,
    /// Received msgs/s: messages over the time until the last one arrived.
    recv_rate: f64,
    /// CPU use during the run.
    cpu: CpuUse,
    /// Why the subscriber stopped early, if it did.
    problem: Option<String>,
    /// Which shards served the connections (jetcore with 2+ shards).
    placement: Option<String>,
}

#[derive(Clone, Debug)]
struct ReqRepResult {
    count: u64,
    rate: f64,
    p50: u64,
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
    cpu: CpuUse,
    /// Which shards served the connections (jetcore with 2+ shards).
    placement: Option<String>,
}

impl RunResult {
    fn cpu(&self) -> &CpuUse {
        match self {
            RunResult::PubSub(r) => &r.cpu,
            RunResult::ReqRep(r) => &r.cpu,
            RunResult::Js(r) => &r.cpu,
            RunResult::Consume(r) => &r.cpu,
        }
    }

    /// Other processes used enough CPU to disturb the measurement.
    fn busy(&self) -> bool {
        self.cpu().other.is_some_and(|o| o > BUSY)
    }

    fn ok(&self) -> bool {
        match self {
            RunResult::PubSub(r) => r.problem.is_none() && r.lost == 0 && r.out_of_order == 0,
            RunResult::ReqRep(_) => true,
            RunResult::Js(r) => r.ok(),
            RunResult::Consume(r) => r.ok(),
        }
    }

    fn line(&self) -> String {
        match self {
            RunResult::PubSub(r) => format!(
                "recv {:>7} msgs/s  sent {:>7} msgs/s  ({} sent, {} received, lost {}, out of order {})  cpu: {}{}{}",
                si(r.recv_rate),
                si(r.send_rate),
                r.sent,
                r.received,
                r.lost,
                r.out_of_order,
                cpu(&r.cpu),
                placed(&r.placement),
                r.problem.as_ref().map_or(String::new(), |p| format!("  PROBLEM: {p}"))
            ),
            RunResult::ReqRep(r) => format!(
                "p50 {:>6} p90 {:>6} p99 {:>6} p99.9 {:>6} max {:>6}  {} req/s ({} requests)  cpu: {}{}",
                us(r.p50),
                us(r.p90),
                us(r.p99),
                us(r.p999),
                us(r.max),
                si(r.rate),
                r.count,
                cpu(&r.cpu),
                placed(&r.placement)
            ),
            RunResult::Js(r) => r.line(),
            RunResult::Consume(r) => r.line(),
        }
    }
}

impl RunResult {
    /// Named figures for the machine-readable result line; the first is the headline
    /// (the ratio against Go is computed on it).
    fn metrics(&self) -> Vec<(&'static str, f64)> {
        match self {
            RunResult::PubSub(r) => vec![
                ("recv_msgs_per_sec", r.recv_rate),
                ("sent_msgs_per_sec", r.send_rate),
            ],
            RunResult::ReqRep(r) => {
                let l = js::Latency {
                    p50: r.p50,
                    p90: r.p90,
                    p99: r.p99,
                    p999: r.p999,
                    max: r.max,
                };
                let mut m = latency_metrics(&l);
                m.push(("req_per_sec", r.rate));
                m
            }
            RunResult::Js(r) => r.metrics(),
            RunResult::Consume(r) => r.metrics(),
        }
    }
}

/// Latency percentiles in microseconds, as metrics.
pub(crate) fn latency_metrics(l: &js::Latency) -> Vec<(&'static str, f64)> {
    let us = |ns: u64| ns as f64 / 1000.0;
    vec![
        ("p50_us", us(l.p50)),
        ("p90_us", us(l.p90)),
        ("p99_us", us(l.p99)),
        ("p999_us", us(l.p999)),
        ("max_us", us(l.max)),
    ]
}

/// The `RESULT {...}` lines of one combination: per server configuration, the
/// medians of every metric over its successful runs, and the ratio to Go.
fn result_lines(mode: &str, case: &str, results: &[(ServerKind, Vec<RunResult>)]) -> Vec<String> {
    let medians = |rs: &[RunResult]| -> Vec<(&'static str, f64)> {
        let good: Vec<&RunResult> = rs.iter().filter(|r| r.ok()).collect();
        let Some(first) = good.first() else {
            return Vec::new();
        };
        first
            .metrics()
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let vals = good
                    .iter()
                    .filter_map(|r| r.metrics().get(i).map(|m| m.1))
                    .collect();
                (*name, median(vals))
            })
            .collect()
    };
    let go = results
        .iter()
        .find(|(k, _)| *k == ServerKind::Go)
        .map(|(_, rs)| medians(rs));
    results
        .iter()
        .map(|(kind, rs)| {
            let m = medians(rs);
            let metrics: serde_json::Map<String, serde_json::Value> = m
                .iter()
                .map(|(k, v)| ((*k).to_string(), serde_json::json!(v)))
                .collect();
            let mut line = serde_json::json!({
                "mode": mode,
                "case": case,
                "server": kind.to_string(),
                "ok": rs.iter().filter(|r| r.ok()).count(),
                "runs": rs.len(),
                "metrics": metrics,
            });
            if let Some((name, _)) = m.first() {
                line["headline"] = serde_json::json!(name);
            }
            let ratio = match (&go, kind, m.first()) {
                (Some(g), ServerKind::Jetcore { .. }, Some((name, v))) => g
                    .iter()
                    .find(|(n, _)| n == name)
                    .filter(|(_, gv)| *gv > 0.0)
                    .map(|(_, gv)| v / gv),
                _ => None,
            };
            if let Some(r) = ratio {
                line["ratio"] = serde_json::json!((r * 1000.0).round() / 1000.0);
            }
            format!("RESULT {line}")
        })
        .collect()
}

fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn us(ns: u64) -> String {
    format!("{:.1}µs", ns as f64 / 1000.0)
}

fn placed(p: &Option<String>) -> String {
    p.as_ref().map_or(String::new(), |p| format!("  [{p}]"))
}

fn cpu(c: &CpuUse) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "?".to_string(), |v| format!("{v:.2}"));
    let busy = if c.other.is_some_and(|o| o > BUSY) {
        "  BUSY MACHINE: other processes used CPU, rerun when quiet"
    } else {
        ""
    };
    format!(
        "server {} gen {:.2} other {}{busy}",
        f(c.server),
        c.gen,
        f(c.other)
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn print_summary(o: &Opts, results: &[(ServerKind, Vec<RunResult>)]) {
    println!();
    let has_go = results.iter().any(|(k, _)| *k == ServerKind::Go) && results.len() > 1;
    println!(
        "medians over the successful runs of {} round(s){}:",
        o.rounds,
        if has_go { "; ratio = jetcore / Go" } else { "" }
    );
    // Failed runs (lost messages, subscriber closed) have meaningless rates.
    let good =
        |rs: &[RunResult]| -> Vec<RunResult> { rs.iter().filter(|r| r.ok()).cloned().collect() };
    let go = results
        .iter()
        .find(|(k, _)| *k == ServerKind::Go)
        .map(|(_, rs)| good(rs));
    match o.mode {
        Mode::PubSub => {
            fn stat(rs: &[RunResult], f: fn(&PubSubResult) -> f64) -> f64 {
                median(
                    rs.iter()
                        .filter_map(|r| match r {
                            RunResult::PubSub(p) => Some(f(p)),
                            _ => None,
                        })
                        .collect(),
                )
            }
            let go_recv = go.as_deref().map(|rs| stat(rs, |p| p.recv_rate));
            println!(
                "  {:<11} {:>7} {:>13} {:>13} {:>8} {:>8} {:>8} {:>7}",
                "server",
                "ok/runs",
                "recv msgs/s",
                "sent msgs/s",
                "srv cpu",
                "gen cpu",
                "other",
                "ratio"
            );
            for (k, all) in results {
                let rs = good(all);
                let recv = stat(&rs, |p| p.recv_rate);
                let ratio = match (go_recv, k) {
                    (Some(g), ServerKind::Jetcore { .. }) if !rs.is_empty() => {
                        format!("{:.2}x", recv / g)
                    }
                    _ => String::new(),
                };
                println!(
                    "  {:<11} {:>7} {:>13} {:>13} {:>8.2} {:>8.2} {:>8.2} {:>7}",
                    k.to_string(),
                    format!("{}/{}", rs.len(), all.len()),
                    si(recv),
                    si(stat(&rs, |p| p.send_rate)),
                    stat(&rs, |p| p.cpu.server.unwrap_or(f64::NAN)),
                    stat(&rs, |p| p.cpu.gen),
                    stat(&rs, |p| p.cpu.other.unwrap_or(f64::NAN)),
                    ratio
                );
            }
        }
        Mode::JsPub | Mode::JsConsume => unreachable!("js / consume print_summary"),
        Mode::ReqRep => {
            fn stat(rs: &[RunResult], f: fn(&ReqRepResult) -> f64) -> f64 {
                median(
                    rs.iter()
                        .filter_map(|r| match r {
                            RunResult::ReqRep(p) => Some(f(p)),
                            _ => None,
                        })
                        .collect(),
                )
            }
            let go_p50 = go.as_deref().map(|rs| stat(rs, |p| p.p50 as f64));
            println!(
                "  {:<11} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8} {:>6} {:>10}",
                "server",
                "p50",
                "p90",
                "p99",
                "max",
                "req/s",
                "srv cpu",
                "gen cpu",
                "other",
                "p50 ratio"
            );
            for (k, all) in results {
                let rs = good(all);
                let p50 = stat(&rs, |p| p.p50 as f64);
                let ratio = match (go_p50, k) {
                    (Some(g), ServerKind::Jetcore { .. }) if !rs.is_empty() => {
                        format!("{:.2}x", p50 / g)
                    }
                    _ => String::new(),
                };
                println!(
                    "  {:<11} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8.2} {:>8.2} {:>6.2} {:>10}",
                    k.to_string(),
                    us(p50 as u64),
                    us(stat(&rs, |p| p.p90 as f64) as u64),
                    us(stat(&rs, |p| p.p99 as f64) as u64),
                    us(stat(&rs, |p| p.max as f64) as u64),
                    si(stat(&rs, |p| p.rate)),
                    stat(&rs, |p| p.cpu.server.unwrap_or(f64::NAN)),
                    stat(&rs, |p| p.cpu.gen),
                    stat(&rs, |p| p.cpu.other.unwrap_or(f64::NAN)),
                    ratio
                );
            }
        }
    }
}

/// Start (or attach to) the server, run the scenario once, stop the server.
async fn run_once(o: &Opts, target: ServerKind, case: Option<Case>) -> Result<RunResult, String> {
    // JetStream: a fresh store directory per run, removed when the run ends.
    let store = match (case, o.port) {
        (Some(_), None) => Some(js::StoreDir::create(&o.js, target)?),
        _ => None,
    };
    let mut server = match o.port {
        Some(_) => None,
        None => {
            let spec = ServerSpec {
                kind: target,
                cpus: o.server_cpus.clone(),
                go_procs: o.go_procs,
                args: store
                    .as_ref()
                    .map_or_else(Vec::new, |s| s.server_args(&o.js, target)),
            };
            Some(block_in_place_or(|| Server::start(&spec))?)
        }
    };
    let port = o.port.or(server.as_ref().map(|s| s.port)).expect("a port");
    let pid = server.as_ref().map(|s| s.pid());
    let run = async {
        match (o.mode, case) {
            (Mode::PubSub, _) => pubsub(o, port, pid).await.map(RunResult::PubSub),
            (Mode::ReqRep, _) => reqrep(o, port, pid).await.map(RunResult::ReqRep),
            (Mode::JsPub, Some(Case::Pub(c))) => js::run(o, c, port, pid).await.map(RunResult::Js),
            (Mode::JsConsume, Some(Case::Consume(c))) => {
                consume::run(o, c, port, pid).await.map(RunResult::Consume)
            }
            (Mode::JsPub | Mode::JsConsume, _) => {
                Err("JetStream mode without a combination".into())
            }
        }
    };
    // Setup (connecting) and the drain after the measured part get 30 s on top.
    let res = match tokio::time::timeout(o.timeout + Duration::from_secs(30), run).await {
        Ok(r) => r,
        Err(_) => Err(format!("did not finish within {:?}", o.timeout)),
    };
    // A failed run: say whether the server died, and show what it printed last.
    if let Some(s) = server.as_mut() {
        if res.as_ref().map_or(true, |r| !r.ok()) {
            let status = match s.exited() {
                Some(st) => format!("server EXITED ({st})"),
                None => "server still running".to_string(),
            };
            let tail = s.log_tail();
            let from = tail.len().saturating_sub(30);
            println!(
                "  [{target} run failed; {status}; last server output:]\n    {}",
                tail[from..].join("\n    ")
            );
        }
    }
    drop(server);
    drop(store);
    res
}

/// Run blocking work (starting a server takes a few milliseconds) without stalling a
/// multi-thread runtime's other tasks; a current-thread runtime simply blocks.
fn block_in_place_or<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// CPU used by the server, by us and by everything else on the machine between two
/// snapshots, in cores (1.0 = one CPU busy all the time).
struct CpuMeter {
    pid: Option<u32>,
    start: Instant,
    server: Option<Duration>,
    gen: Duration,
    machine: Option<Duration>,
}

/// CPUs used by other processes above which a run counts as disturbed.
const BUSY: f64 = 0.15;

/// What a [`CpuMeter`] saw.
#[derive(Clone, Copy, Debug, Default)]
struct CpuUse {
    /// The server process (`None` when it is not ours: `--port`).
    server: Option<f64>,
    /// This load generator.
    gen: f64,
    /// Everything else: other processes, interrupts not charged to either of us. More
    /// than ~0.1 means the machine was not quiet and the run is suspect.
    other: Option<f64>,
}

impl CpuMeter {
    fn start(pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            pid,
            start: Instant::now(),
            server: pid.and_then(process_cpu_time),
            gen: own_cpu_time(),
            machine: machine_busy_time(),
        }
    }

    fn stop(&self) -> CpuUse {
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        let server = match (self.pid.and_then(process_cpu_time), self.server) {
            (Some(now), Some(then)) => Some(now.saturating_sub(then).as_secs_f64() / wall),
            _ => None,
        };
        let gen = own_cpu_time().saturating_sub(self.gen).as_secs_f64() / wall;
        let other = match (machine_busy_time(), self.machine, server) {
            (Some(now), Some(then), Some(s)) => {
                Some((now.saturating_sub(then).as_secs_f64() / wall - s - gen).max(0.0))
            }
            _ => None,
        };
        CpuUse { server, gen, other }
    }
}

/// A raw protocol connection: the stream and a read buffer of unparsed bytes.
struct RawConn {
    s: TcpStream,
    buf: Vec<u8>,
    /// Unparsed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl RawConn {
    /// Connect, read INFO, send CONNECT and `setup`, and wait for the PONG of a PING.
    async fn connect(port: u16, setup: &[u8], buf_size: usize) -> Result<RawConn, String> {
        let s = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut c = RawConn {
            s,
            buf: vec![0; buf_size],
            start: 0,
            end: 0,
        };
        let mut hello = CONNECT.to_vec();
        hello.extend_from_slice(setup);
        hello.extend_from_slice(b"PING\r\n");
        c.s.write_all(&hello).await.map_err(|e| e.to_string())?;
        c.wait_pong().await?;
        Ok(c)
    }

    /// Read more bytes into the buffer (compacting it first). Errors on EOF.
    async fn fill(&mut self) -> Result<(), String> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        let n = self
            .s
            .read(&mut self.buf[self.end..])
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        self.end += n;
        Ok(())
    }

    /// Skip frames until a PONG (answering PINGs); messages are not expected here.
    async fn wait_pong(&mut self) -> Result<(), String> {
        loop {
            while let Some((f, n)) = next_frame(&self.buf[self.start..self.end])
                .map_err(|e| e.0)?
                .map(|(f, n)| (frame_kind(&f), n))
            {
                self.start += n;
                match f {
                    Kind::Pong => return Ok(()),
                    Kind::Ping => self.pong().await?,
                    Kind::Err(e) => return Err(format!("-ERR{e}")),
                    Kind::Msg | Kind::Other => {}
                }
            }
            self.fill().await?;
        }
    }

    async fn pong(&mut self) -> Result<(), String> {
        self.s
            .write_all(b"PONG\r\n")
            .await
            .map_err(|e| e.to_string())
    }
}

/// A frame without borrowed parts (so the buffer can be used again).
enum Kind {
    Msg,
    Ping,
    Pong,
    Other,
    Err(String),
}

fn frame_kind(f: &Frame<'_>) -> Kind {
    match f {
        Frame::Msg { .. } => Kind::Msg,
        Frame::Ping => Kind::Ping,
        Frame::Pong => Kind::Pong,
        Frame::Other => Kind::Other,
        Frame::Err(e) => Kind::Err(String::from_utf8_lossy(e).into_owned()),
    }
}

/// Finds which shard of a jetcore server serves a connection: the connection sends a
/// burst of PINGs and the shard thread whose CPU time grows answered them.
struct ShardProbe {
    pid: u32,
    threads: Vec<(usize, u32)>,
}

/// PINGs per probe: ~100-200 ms of server CPU here, many clock ticks.
const PROBE_PINGS: usize = 500_000;
/// PINGs per write (the PONGs are read back before the next write).
const PROBE_CHUNK: usize = 10_000;
/// Reconnections tried to get the requested placement.
const PLACEMENT_TRIES: usize = 30;

impl ShardProbe {
    /// A probe for jetcore with at least two shards, when we know its pid.
    fn new(pid: Option<u32>) -> Option<ShardProbe> {
        let pid = pid?;
        let threads = shard_threads(pid);
        // glommio names an executor's helper threads like the executor itself, so a
        // shard may have several threads.
        let shards = threads.iter().map(|&(s, _)| s).max().map_or(0, |m| m + 1);
        (shards >= 2).then_some(ShardProbe { pid, threads })
    }

    /// CPU time per shard (index = shard).
    fn cpu(&self) -> Vec<Duration> {
        let mut per = Vec::new();
        for &(shard, tid) in &self.threads {
            if per.len() <= shard {
                per.resize(shard + 1, Duration::ZERO);
            }
            per[shard] += thread_cpu_time(self.pid, tid).unwrap_or_default();
        }
        per
    }

    /// The shard serving `conn`, or `None` if no thread stood out.
    async fn shard_of(&self, conn: &mut RawConn) -> Result<Option<usize>, String> {
        let before = self.cpu();
        let chunk = b"PING\r\n".repeat(PROBE_CHUNK);
        for _ in 0..PROBE_PINGS / PROBE_CHUNK {
            conn.s.write_all(&chunk).await.map_err(|e| e.to_string())?;
            let mut pongs = 0;
            while pongs < PROBE_CHUNK {
                while let Some((f, n)) = next_frame(&conn.buf[conn.start..conn.end])
                    .map_err(|e| e.0)?
                    .map(|(f, n)| (frame_kind(&f), n))
                {
                    conn.start += n;
                    match f {
                        Kind::Pong => pongs += 1,
                        Kind::Ping => conn.pong().await?,
                        Kind::Err(e) => return Err(format!("-ERR{e}")),
                        Kind::Msg | Kind::Other => {}
                    }
                }
                if pongs < PROBE_CHUNK {
                    conn.fill().await?;
                }
            }
        }
        let mut grew: Vec<(Duration, usize)> = self
            .cpu()
            .iter()
            .zip(&before)
            .enumerate()
            .map(|(shard, (a, b))| (a.saturating_sub(*b), shard))
            .collect();
        grew.sort_unstable();
        grew.reverse();
        let (top, shard) = grew[0];
        let second = grew[1].0;
        Ok((top >= Duration::from_millis(20) && top > second * 3).then_some(shard))
    }

    /// Connect until the placement relative to `anchor` is as wanted (or tries run
    /// out); returns the connection and its shard.
    async fn connect_placed(
        &self,
        port: u16,
        setup: &[u8],
        buf_size: usize,
        anchor: Option<usize>,
        want: Placement,
    ) -> Result<(RawConn, Option<usize>), String> {
        let mut tries = 0;
        loop {
            let mut c = RawConn::connect(port, setup, buf_size).await?;
            let shard = self.shard_of(&mut c).await?;
            tries += 1;
            let fits = match (want, anchor, shard) {
                (Placement::Any, _, _) => true,
                (Placement::Same, Some(a), Some(s)) => a == s,
                (Placement::Cross, Some(a), Some(s)) => a != s,
                _ => false,
            };
            if fits || tries >= PLACEMENT_TRIES {
                return Ok((c, shard));
            }
        }
    }
}

fn shard_name(s: Option<usize>) -> String {
    s.map_or_else(|| "?".to_string(), |s| s.to_string())
}

/// Bytes of publisher id + sequence number at the start of every pubsub payload.
const STAMP: usize = 12;

/// What a publisher did.
struct PubDone {
    sent: u64,
    /// When its PONG (after its last PUB) arrived.
    done: Instant,
}

async fn pubsub(o: &Opts, port: u16, pid: Option<u32>) -> Result<PubSubResult, String> {
    let subject = format!("bench.pubsub.{}", std::process::id());
    let sub_setup = format!("SUB {subject} 1\r\n");
    let mut sub = RawConn::connect(port, sub_setup.as_bytes(), 4 * 1024 * 1024).await?;
    let mut pubs = Vec::new();
    let mut placement = None;
    if let Some(probe) = ShardProbe::new(pid) {
        let anchor = probe.shard_of(&mut sub).await?;
        let mut shards = Vec::new();
        for _ in 0..o.pubs {
            let (c, s) = probe
                .connect_placed(port, b"", 4096, anchor, o.placement)
                .await?;
            pubs.push(c);
            shards.push(shard_name(s));
        }
        placement = Some(format!(
            "sub on shard {}, pubs on {}",
            shard_name(anchor),
            shards.join(",")
        ));
    } else {
        for _ in 0..o.pubs {
            pubs.push(RawConn::connect(port, b"", 4096).await?);
        }
    }
    // Total to expect; unknown (MAX) until every publisher has finished.
    let expected = Arc::new(AtomicU64::new(u64::MAX));
    let meter = CpuMeter::start(pid);
    let t0 = meter.start;
    let deadline = match o.count {
        Some(_) => t0 + o.timeout,
        None => t0 + o.duration,
    };
    let hard_deadline = t0 + o.timeout;
    let npubs = o.pubs;
    let stamped = o.size >= STAMP;
    let exp = expected.clone();
    // Wakes the subscriber when the total is known, so that it stops as soon as it has
    // everything instead of at the end of a read timeout (that idle tail would dilute
    // the CPU figures).
    let known = Arc::new(tokio::sync::Notify::new());
    let known_rx = known.clone();
    let sub_task = tokio::spawn(async move {
        let mut st = SubState {
            received: 0,
            next_seq: vec![0; npubs],
            lost: 0,
            out_of_order: 0,
            last: t0,
        };
        let problem = loop {
            let mut got = 0;
            let mut pings = 0;
            while let Some((f, n)) = next_frame(&sub.buf[sub.start..sub.end]).map_err(|e| e.0)? {
                match f {
                    Frame::Msg { body, .. } => {
                        got += 1;
                        if stamped {
                            st.check(body);
                        }
                    }
                    Frame::Ping => pings += 1,
                    Frame::Err(e) => {
                        return Err(format!("-ERR{}", String::from_utf8_lossy(e)));
                    }
                    Frame::Pong | Frame::Other => {}
                }
                sub.start += n;
            }
            if got > 0 {
                st.received += got;
                st.last = Instant::now();
            }
            for _ in 0..pings {
                sub.pong().await?;
            }
            let want = exp.load(Ordering::Acquire);
            if st.received >= want {
                break None;
            }
            if Instant::now() > hard_deadline {
                break Some("hard time limit reached".to_string());
            }
            // Once all publishers are done, give stragglers 3 s of silence at most.
            let idle = if want == u64::MAX {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(3)
            };
            let read = tokio::select! {
                r = tokio::time::timeout(idle, sub.fill()) => Some(r),
                // `notify_one` stores a permit, so a total published before we wait
                // here is not missed.
                _ = known_rx.notified(), if want == u64::MAX => None,
            };
            match read {
                None | Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => break Some(format!("subscriber: {e}")),
                Some(Err(_)) if want == u64::MAX => {}
                Some(Err(_)) => break Some("messages missing after 3 s of silence".to_string()),
            }
        };
        Ok::<_, String>((st, problem))
    });

    let mut handles = Vec::new();
    for (id, conn) in pubs.into_iter().enumerate() {
        let subject = subject.clone();
        let (size, batch, count) = (o.size, o.batch, o.count);
        handles.push(tokio::spawn(async move {
            publisher(conn, id as u32, subject, size, batch, count, deadline).await
        }));
    }
    let mut sent = 0;
    let mut sent_per_pub = Vec::new();
    let mut last_done = t0;
    let mut pub_err = None;
    for h in handles {
        match h.await.map_err(|e| e.to_string())? {
            Ok(d) => {
                sent += d.sent;
                sent_per_pub.push(d.sent);
                last_done = last_done.max(d.done);
            }
            Err(e) => {
                pub_err.get_or_insert(e);
                sent_per_pub.push(0);
            }
        }
    }
    expected.store(sent, Ordering::Release);
    known.notify_one();
    let (mut st, problem) = sub_task.await.map_err(|e| e.to_string())??;
    let cpu = meter.stop();
    if stamped {
        // The tail each publisher sent but that never arrived.
        for (p, &n) in sent_per_pub.iter().enumerate() {
            st.lost += n.saturating_sub(st.next_seq[p]);
        }
    } else {
        st.lost = sent.saturating_sub(st.received);
    }
    let problem = match (pub_err, problem) {
        (Some(e), _) => Some(format!("publisher: {e}")),
        (None, p) => p,
    };
    Ok(PubSubResult {
        sent,
        received: st.received,
        lost: st.lost,
        out_of_order: st.out_of_order,
        send_rate: sent as f64 / (last_done - t0).as_secs_f64(),
        recv_rate: st.received as f64 / (st.last - t0).as_secs_f64().max(1e-9),
        cpu,
        problem,
        placement,
    })
}

/// The subscriber's bookkeeping.
struct SubState {
    received: u64,
    /// Next expected sequence number per publisher.
    next_seq: Vec<u64>,
    lost: u64,
    out_of_order: u64,
    /// When the last message arrived.
    last: Instant,
}

impl SubState {
    #[inline]
    fn check(&mut self, body: &[u8]) {
        let id = u32::from_le_bytes(body[0..4].try_into().expect("4 bytes")) as usize;
        let seq = u64::from_le_bytes(body[4..12].try_into().expect("8 bytes"));
        let Some(next) = self.next_seq.get_mut(id) else {
            self.out_of_order += 1;
            return;
        };
        if seq == *next {
            *next += 1;
        } else if seq > *next {
            self.lost += seq - *next;
            *next = seq + 1;
        } else {
            self.out_of_order += 1;
        }
    }
}

async fn publisher(
    mut conn: RawConn,
    id: u32,
    subject: String,
    size: usize,
    batch: usize,
    count: Option<u64>,
    deadline: Instant,
) -> Result<PubDone, String> {
    let mut payload = vec![b'p'; size];
    if size >= STAMP {
        payload[0..4].copy_from_slice(&id.to_le_bytes());
    }
    let mut frame = Vec::new();
    put_pub(&mut frame, subject.as_bytes(), None, &payload);
    let frame_len = frame.len();
    let payload_at = frame_len - 2 - size;
    let per_batch = (batch / frame_len).max(1);
    let mut buf = Vec::with_capacity(per_batch * frame_len);
    for _ in 0..per_batch {
        buf.extend_from_slice(&frame);
    }
    let mut seq = 0u64;
    loop {
        let n = match count {
            Some(total) => (total - seq).min(per_batch as u64) as usize,
            None if Instant::now() >= deadline => 0,
            None => per_batch,
        };
        if n == 0 || Instant::now() >= deadline {
            break;
        }
        if size >= STAMP {
            for i in 0..n {
                let at = i * frame_len + payload_at + 4;
                buf[at..at + 8].copy_from_slice(&seq.to_le_bytes());
                seq += 1;
            }
        } else {
            seq += n as u64;
        }
        conn.s
            .write_all(&buf[..n * frame_len])
            .await
            .map_err(|e| format!("write: {e}"))?;
    }
    // The PONG says the server has processed every PUB before it.
    conn.s
        .write_all(b"PING\r\n")
        .await
        .map_err(|e| e.to_string())?;
    conn.wait_pong().await?;
    Ok(PubDone {
        sent: seq,
        done: Instant::now(),
    })
}

/// Latency samples in nanoseconds.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

async fn reqrep(o: &Opts, port: u16, pid: Option<u32>) -> Result<ReqRepResult, String> {
    match o.client {
        ClientKind::Raw => reqrep_raw(o, port, pid).await,
        ClientKind::AsyncNats => reqrep_async_nats(o, port, pid).await,
    }
}

/// Decide when a request loop stops, and record samples after the warm-up.
struct ReqLoop {
    warmup: u64,
    count: Option<u64>,
    duration: Duration,
    hard_deadline: Instant,
    done: u64,
    measured_from: Option<Instant>,
    meter: Option<CpuMeter>,
    pid: Option<u32>,
    hist: Histogram<u64>,
}

impl ReqLoop {
    fn new(o: &Opts, pid: Option<u32>) -> ReqLoop {
        ReqLoop {
            warmup: o.warmup,
            count: o.count,
            duration: o.duration,
            hard_deadline: Instant::now() + o.timeout,
            done: 0,
            measured_from: None,
            meter: None,
            pid,
            hist: new_histogram(),
        }
    }

    /// True while another request should be made.
    fn more(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.hard_deadline {
            return false;
        }
        if self.done == self.warmup && self.measured_from.is_none() {
            self.measured_from = Some(now);
            self.meter = Some(CpuMeter::start(self.pid));
        }
        let Some(from) = self.measured_from else {
            return true;
        };
        match self.count {
            Some(n) => self.done - self.warmup < n,
            None => now - from < self.duration,
        }
    }

    fn record(&mut self, took: Duration) {
        if self.measured_from.is_some() {
            let ns = (took.as_nanos() as u64).max(1);
            self.hist.saturating_record(ns);
        }
        self.done += 1;
    }

    fn result(self) -> ReqRepResult {
        let elapsed = self
            .measured_from
            .map_or(0.0, |f| f.elapsed().as_secs_f64());
        let cpu = self.meter.map_or_else(CpuUse::default, |m| m.stop());
        let h = &self.hist;
        ReqRepResult {
            count: h.len(),
            rate: h.len() as f64 / elapsed.max(1e-9),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            cpu,
            placement: None,
        }
    }
}

async fn reqrep_raw(o: &Opts, port: u16, pid: Option<u32>) -> Result<ReqRepResult, String> {
    let tag = std::process::id();
    let service = format!("bench.service.{tag}");
    let inbox = format!("_INBOX.bench.{tag}");
    let mut responder =
        RawConn::connect(port, format!("SUB {service} 1\r\n").as_bytes(), 64 * 1024).await?;
    let req_setup = format!("SUB {inbox} 1\r\n");
    let (mut requester, placement) = match ShardProbe::new(pid) {
        Some(probe) => {
            let anchor = probe.shard_of(&mut responder).await?;
            let (c, s) = probe
                .connect_placed(port, req_setup.as_bytes(), 64 * 1024, anchor, o.placement)
                .await?;
            let p = format!(
                "responder on shard {}, requester on {}",
                shard_name(anchor),
                shard_name(s)
            );
            (c, Some(p))
        }
        None => (
            RawConn::connect(port, req_setup.as_bytes(), 64 * 1024).await?,
            None,
        ),
    };
    let resp_task = tokio::spawn(async move {
        let mut out = Vec::with_capacity(64 * 1024);
        loop {
            out.clear();
            while let Some((f, n)) =
                next_frame(&responder.buf[responder.start..responder.end]).map_err(|e| e.0)?
            {
                match f {
                    Frame::Msg { args, body } => {
                        // <subject> <sid> <reply> <size>
                        let reply = args
                            .split(|&b| b == b' ')
                            .nth(2)
                            .ok_or("request without reply subject")?;
                        put_pub(&mut out, reply, None, body);
                    }
                    Frame::Ping => out.extend_from_slice(b"PONG\r\n"),
                    Frame::Err(e) => return Err(format!("-ERR{}", String::from_utf8_lossy(e))),
                    Frame::Pong | Frame::Other => {}
                }
                responder.start += n;
            }
            if !out.is_empty() {
                responder
                    .s
                    .write_all(&out)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if responder.fill().await.is_err() {
                return Ok::<(), String>(());
            }
        }
    });
    let mut request = Vec::new();
    put_pub(
        &mut request,
        service.as_bytes(),
        Some(inbox.as_bytes()),
        &vec![b'q'; o.size],
    );
    let mut lp = ReqLoop::new(o, pid);
    // PINGs seen while waiting for a reply, answered after the timed part.
    let mut pending_pings = 0usize;
    while lp.more() {
        let t = Instant::now();
        requester
            .s
            .write_all(&request)
            .await
            .map_err(|e| e.to_string())?;
        'reply: loop {
            while let Some((f, n)) =
                next_frame(&requester.buf[requester.start..requester.end]).map_err(|e| e.0)?
            {
                let kind = frame_kind(&f);
                requester.start += n;
                match kind {
                    Kind::Msg => break 'reply,
                    Kind::Ping => pending_pings += 1,
                    Kind::Err(e) => return Err(format!("-ERR{e}")),
                    Kind::Pong | Kind::Other => {}
                }
            }
            requester.fill().await?;
        }
        lp.record(t.elapsed());
        for _ in 0..std::mem::take(&mut pending_pings) {
            requester.pong().await?;
        }
    }
    resp_task.abort();
    let mut r = lp.result();
    r.placement = placement;
    Ok(r)
}

async fn reqrep_async_nats(o: &Opts, port: u16, pid: Option<u32>) -> Result<ReqRepResult, String> {
    use futures_lite::StreamExt;
    let url = format!("nats://127.0.0.1:{port}");
    let service = format!("bench.service.{}", std::process::id());
    let responder = async_nats::connect(&url).await.map_err(|e| e.to_string())?;
    let mut subscription = responder
        .subscribe(service.clone())
        .await
        .map_err(|e| e.to_string())?;
    responder.flush().await.map_err(|e| e.to_string())?;
    let resp_task = tokio::spawn(async move {
        while let Some(msg) = subscription.next().await {
            if let Some(reply) = msg.reply {
                if responder.publish(reply, msg.payload).await.is_err() {
                    break;
                }
            }
        }
    });
    let requester = async_nats::connect(&url).await.map_err(|e| e.to_string())?;
    let payload = bytes::Bytes::from(vec![b'q'; o.size]);
    let mut lp = ReqLoop::new(o, pid);
    while lp.more() {
        let t = Instant::now();
        requester
            .request(service.clone(), payload.clone())
            .await
            .map_err(|e| format!("request: {e}"))?;
        lp.record(t.elapsed());
    }
    resp_task.abort();
    Ok(lp.result())
}
